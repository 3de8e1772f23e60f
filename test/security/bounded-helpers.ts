import { scanJson } from '../../src/services/bounded.js'

export const jsonTooDeepAt = (text: string, max: number): number => scanJson(text, max).tooDeepAt
