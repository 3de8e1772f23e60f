// deploy/watch/ is checked statically (no cluster on the project's machines): the RBAC grants
// exactly what natplan watch reads, and the Deployment watches exactly that, with the account
// the RBAC binds and flags natplan watch has.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'

const docs = (file: string) => parseAllDocuments(readFileSync(`deploy/watch/${file}`, 'utf8')).map((d) => d.toJS())
const rbac = docs('rbac.yaml')
const [deployment] = docs('deployment.yaml')
const one = (kind: string) => {
  const found = rbac.filter((d) => d.kind === kind)
  expect(found, kind).toHaveLength(1)
  return found[0]
}

/** Every permission a rule list grants, one `group/resource[/name]:verb` each. */
function grants(rules: Array<{ apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }>): string[] {
  const out: string[] = []
  for (const r of rules)
    for (const g of r.apiGroups)
      for (const res of r.resources) for (const name of r.resourceNames ?? ['']) for (const v of r.verbs) out.push(`${g}/${res}${name ? `/${name}` : ''}:${v}`)
  return out.sort()
}

describe('deploy/watch', () => {
  it('grants cluster-wide get, list and watch of services, endpointslices and nodes, and nothing else', () => {
    expect(grants(one('ClusterRole').rules)).toEqual(
      [
        '/nodes:get',
        '/nodes:list',
        '/nodes:watch',
        '/services:get',
        '/services:list',
        '/services:watch',
        'discovery.k8s.io/endpointslices:get',
        'discovery.k8s.io/endpointslices:list',
        'discovery.k8s.io/endpointslices:watch',
      ].sort(),
    )
  })

  it("grants in kube-system only kube-proxy's ConfigMap, by name", () => {
    const role = one('Role')
    expect(role.metadata.namespace).toBe('kube-system')
    expect(grants(role.rules)).toEqual(['/configmaps/kube-proxy:get', '/configmaps/kube-proxy:list', '/configmaps/kube-proxy:watch'])
  })

  it('binds both roles to the service account the Deployment runs as', () => {
    const sa = one('ServiceAccount')
    const subject = [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]
    const crb = one('ClusterRoleBinding')
    expect(crb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: one('ClusterRole').metadata.name })
    expect(crb.subjects).toEqual(subject)
    const rb = one('RoleBinding')
    expect(rb.metadata.namespace).toBe('kube-system')
    expect(rb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: one('Role').metadata.name })
    expect(rb.subjects).toEqual(subject)
    expect(deployment.metadata.namespace).toBe(sa.metadata.namespace)
    expect(deployment.spec.template.spec.serviceAccountName).toBe(sa.metadata.name)
  })

  it('watches exactly what the RBAC grants, one kubectl per kind, into natplan watch with flags it has', () => {
    expect(deployment.spec.replicas).toBe(1)
    expect(deployment.spec.strategy.type).toBe('Recreate')
    const [container] = deployment.spec.template.spec.containers
    const script: string = container.command.join(' ')
    expect(script).toMatch(/kubectl get "\$@" --watch --output-watch-events -o json/)
    const watched = [...script.matchAll(/<\(relist ([^)]*)\)/g)].map((m) => m[1]!.trim())
    expect(watched).toEqual([
      'services --all-namespaces',
      'endpointslices.discovery.k8s.io --all-namespaces',
      'nodes',
      'configmap kube-proxy --namespace kube-system',
    ])
    const flags = [...script.slice(script.indexOf('cli.js watch'), script.indexOf('<(relist')).matchAll(/ (--[a-z-]+)/g)].map((m) => m[1])
    const usage = readFileSync('src/cli/watch.ts', 'utf8').match(/natplan watch [^\n]*/)![0]
    for (const f of flags) expect(usage, f).toContain(`${f} `)
    expect(container.env.find((e: { name: string }) => e.name === 'NATPLAN_TOKEN').valueFrom.secretKeyRef).toBeDefined()
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true })
  })
})
