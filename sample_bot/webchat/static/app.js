// The sample bot's web chat page: Bot Framework Web Chat (window.WebChat, from
// botframework-webchat's own bundle) on the channel simulator's Direct Line endpoint, browser
// tracing (window.BotTelemetryOtel: OpenTelemetry JS, so each Direct Line request carries a
// W3C traceparent and the turn's trace starts here), and Sunbird telemetry v3 events
// (window.$t, @project-sunbird/telemetry-sdk) sent to the collector's POST /v1/telemetry:
//   START when the conversation opens, then IMPRESSION; INTERACT on each send (typed, or a
//   suggested action); FEEDBACK on thumbs up/down; END when the page is left.
// Every event carries the conversation id in cdata, and the trace id of the request it caused
// when there is one, so the collector shows it in the transcript and in the trace.
// No inline script (the page's CSP is script-src 'self'); Web Chat's styles get the nonce from
// <meta name="webchat-nonce">.
'use strict';

(async function main() {
  const body = document.body;
  const collector = body.dataset.collector; // e.g. http://127.0.0.1:4318
  const channel = body.dataset.channel; // the channel id the bot sees
  const nonce = document.querySelector('meta[name="webchat-nonce"]').content;
  const params = new URLSearchParams(location.search);
  const seen = []; // for tests and curious people: the eids the SDK produced
  window.webchatPage = { seen, cspViolations: [] };
  document.addEventListener('securitypolicyviolation', (e) =>
    window.webchatPage.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  document.addEventListener('TelemetryEvent', (e) => seen.push(e.detail.eid));

  // 1. Tracing first, so that every request DirectLineJS makes is instrumented. The polling
  //    GETs are left out (one trace a second would say nothing); with WebSocket there are none.
  const traceOfActivity = new Map(); // Direct Line activity id -> trace id of its POST
  let startTrace = null; // the trace of POST /conversations (the welcome turn)
  if (window.BotTelemetryOtel) {
    window.BotTelemetryOtel.start({
      serviceName: 'webchat',
      collectorUrl: collector,
      peerService: 'channel',
      ignoreUrls: [/\/activities\?watermark=/, /\/webchat\/token$/],
      attributes: { 'deployment.environment.name': 'demo' },
      onSpanEnd(span, xhr) {
        let answer = null;
        try {
          // DirectLineJS asks for JSON (rxjs ajax): then responseText may not be read.
          answer = xhr.responseType === 'json' ? xhr.response : JSON.parse(xhr.responseText);
        } catch (error) {
          return;
        }
        const traceId = span.spanContext().traceId;
        if (answer && answer.id) traceOfActivity.set(answer.id, traceId);
        else if (answer && answer.conversationId && !startTrace) startTrace = traceId;
      },
    });
  }

  // 2. Ids: a device id kept in localStorage (the SDK's fingerprint is the same for every
  //    headless browser on a machine), a session id per tab, and the Direct Line user id.
  const did = localStorage.getItem('webchat.did') || crypto.randomUUID();
  localStorage.setItem('webchat.did', did);
  const sid = sessionStorage.getItem('webchat.sid') || crypto.randomUUID();
  sessionStorage.setItem('webchat.sid', sid);
  const { token, userId } = await (await fetch('/webchat/token', { method: 'POST' })).json();

  // 3. Sunbird telemetry v3 to the collector. Our dispatcher sends each batch with fetch
  //    keepalive, so the batch END flushes on pagehide still arrives after the page is gone
  //    (the SDK's own transport has no keepalive).
  const $t = window.$t;
  const pdata = { id: 'webchat', ver: '0.1.0', pid: 'sample-bot-webchat' };
  $t.initialize({
    pdata,
    env: 'webchat',
    channel,
    uid: userId,
    sid,
    did,
    host: collector,
    endpoint: '/v1/telemetry',
    batchsize: 20,
    dispatcher: {
      dispatch(batch) {
        fetch(`${collector}/v1/telemetry`, {
          method: 'POST',
          keepalive: true,
          body: JSON.stringify(batch),
          headers: { 'Content-Type': 'application/json', 'X-App-ID': pdata.id,
            'X-Device-ID': did, 'X-Channel-ID': channel },
        }).catch((error) => console.warn('telemetry not sent', error));
      },
    },
  });
  // The SDK sends only when 20 events are queued or on END: send sooner, a moment after the
  // last event, so the collector shows what happened while the chat goes on.
  let flushTimer = null;
  function flushSoon() {
    clearTimeout(flushTimer);
    flushTimer = setTimeout(() => $t.syncEvents(), 1000);
  }

  // The trace a request caused, once its span has ended (it ends around when Web Chat sees
  // the answer); null if it does not come within 3 s.
  async function traceOf(lookup) {
    for (let waited = 0; waited < 3000; waited += 50) {
      const found = lookup();
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return null;
  }
  let conversation = null;
  function context(traceId) {
    const cdata = [{ type: 'Conversation', id: conversation }];
    if (traceId) cdata.push({ type: 'Trace', id: traceId });
    return { context: { cdata } };
  }

  // 4. Web Chat on the channel's Direct Line endpoint (same origin: no CORS, and the XHR
  //    instrumentation adds traceparent by itself).
  const directLine = window.WebChat.createDirectLine({
    domain: `${location.origin}/v3/directline`,
    token,
    webSocket: params.get('ws') !== '0',
  });
  let started = false;
  const store = window.WebChat.createStore({}, () => (next) => (action) => {
    try {
      onAction(action);
    } catch (error) {
      console.error('telemetry hook failed', error);
    }
    return next(action);
  });

  function onAction(action) {
    if (action.type === 'DIRECT_LINE/CONNECT_FULFILLED' && !started) {
      started = true;
      conversation = directLine.conversationId;
      traceOf(() => startTrace).then(async (traceId) => {
        // start() is async (it may fingerprint the device); later events wait for it.
        await $t.start({}, 'sample-bot', '1.0',
          { type: 'session', mode: 'chat', pageid: 'webchat' }, context(traceId));
        $t.impression({ type: 'view', pageid: 'webchat', uri: location.pathname },
          context(traceId));
        flushSoon();
      });
    } else if (action.type === 'DIRECT_LINE/POST_ACTIVITY_FULFILLED') {
      const activity = action.payload.activity || {};
      const method = action.meta.method; // 'keyboard' (typed) or 'imBack' (a suggested action)
      traceOf(() => traceOfActivity.get(activity.id)).then((traceId) => {
        if (activity.type === 'message') {
          $t.interact({ type: 'CLICK', subtype: method || 'keyboard', pageid: 'webchat',
            id: method === 'imBack' ? 'suggested-action' : 'send-box' }, context(traceId));
        } else if (activity.type === 'event'
                   && activity.name === 'webchat:activity-status/feedback') {
          feedback(activity, traceId);
        }
        flushSoon();
      });
    }
  }

  // Thumbs up/down (built into Web Chat 4.18): the event says which action was chosen; the bot
  // activity that offered it is the one rated.
  function feedback(activity, traceId) {
    const vote = (activity.entities || [])[0] || {};
    const rated = store.getState().activities.find((a) => a.from && a.from.role === 'bot'
      && (a.entities || []).some((e) => (e.potentialAction || []).some((p) => p['@id'] === vote['@id'])));
    $t.feedback({ rating: vote['@type'] === 'LikeAction' ? 5 : 1, commentid: vote['@id'] || '' },
      { ...context(traceId), object: { id: rated ? rated.id : 'unknown', type: 'Activity', ver: '1' } });
    $t.resetObject({}); // options.object would stick to later events
  }

  window.webchatPage.end = () => {
    if (started) $t.end({ type: 'session', pageid: 'webchat' }, context(null)); // END sends
  };
  window.addEventListener('pagehide', () => window.webchatPage.end());
  window.webchatPage.store = store;
  window.webchatPage.conversation = () => conversation;
  window.webchatPage.flush = () => window.BotTelemetryOtel && window.BotTelemetryOtel.flush();

  window.WebChat.renderWebChat({
    directLine,
    store,
    userID: userId,
    username: 'Web user',
    locale: 'en-US',
    nonce,
    styleOptions: { hideUploadButton: true, suggestedActionLayout: 'flow' },
  }, document.getElementById('webchat'));
  body.dataset.ready = '1';
})().catch((error) => {
  console.error(error);
  document.body.dataset.ready = 'error';
});
