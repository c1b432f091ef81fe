// The real @project-sunbird/telemetry-sdk (2.0.1, its CommonJS build) in Node: one event of
// each kind its API makes, sent by the SDK's own HTTP transport to the collector.
// node sdk_node.cjs SDK_DIR COLLECTOR_URL
const { $t } = require(process.argv[2]);

(async () => {
  $t.initialize({
    pdata: { id: 'node-client', ver: '1.0', pid: 'tests' },
    env: 'tests',
    channel: 'node-channel',
    uid: 'node-user',
    did: 'node-device',
    host: process.argv[3],
    endpoint: '/v1/telemetry',
    batchsize: 100,
    cdata: [{ type: 'Conversation', id: 'conv-node' }],
    tags: ['node'],
  });
  await $t.start({}, 'sample-bot', '1.0', { type: 'session', mode: 'play', pageid: 'chat' });
  $t.impression({ type: 'view', pageid: 'chat', uri: '/chat' });
  $t.interact({ type: 'CLICK', id: 'send', pageid: 'chat', extra: { value: 'hi' } });
  $t.feedback({ rating: 4, commenttxt: 'nice' });
  $t.log({ type: 'api_call', level: 'INFO', message: 'loaded', pageid: 'chat' });
  $t.error({ err: 'E42', errtype: 'CONTENT', stacktrace: 'at x', pageid: 'chat' });
  $t.interrupt({ type: 'background', pageid: 'chat' });
  $t.search({ query: 'hours', size: 2, topn: [{ identifier: 'a' }] });
  $t.share({ items: [{ id: 'x', type: 'Link', ver: '1' }], dir: 'out', type: 'Link' });
  $t.audit({ props: ['name'], state: 'on', prevstate: 'off' });
  $t.metrics({ system: 'node', subsystem: 'tests', metrics: [{ name: 'x', value: 1 }] });
  $t.end({ type: 'session', pageid: 'chat' }); // END sends the batch
  // The SDK has no completion callback: wait until its request is answered, then stop its
  // retry timers by exiting.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  process.exit(0);
})();
