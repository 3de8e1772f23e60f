import { scanJson } from '../../src/plugins/app/bounded.js'

export const jsonTooDeepAt = (text: string, max: number): number => scanJson(text, max).tooDeepAt
