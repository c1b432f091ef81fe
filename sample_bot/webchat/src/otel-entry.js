// Browser tracing for the web chat page, bundled by esbuild (scripts/build-webchat) into
// dist/otel.js, an IIFE that sets window.BotTelemetryOtel. DirectLineJS makes its calls with
// XMLHttpRequest (rxjs ajax), so the XHR instrumentation puts a W3C traceparent on them and
// records a CLIENT span each: the trace of a turn starts in the browser. Spans go to the
// collector as OTLP/HTTP JSON.
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { XMLHttpRequestInstrumentation } from '@opentelemetry/instrumentation-xml-http-request';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, WebTracerProvider } from '@opentelemetry/sdk-trace-web';

let provider;

function escaped(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// start({serviceName, collectorUrl, peerService, ignoreUrls, attributes, onSpanEnd})
// onSpanEnd(span, xhr) runs when a request ends: the page learns which trace a request was.
export function start({ serviceName = 'webchat', collectorUrl, peerService, ignoreUrls = [],
                        attributes = {}, onSpanEnd }) {
  const exporter = new OTLPTraceExporter({ url: `${collectorUrl}/v1/traces` });
  provider = new WebTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, ...attributes }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 })],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  registerInstrumentations({
    instrumentations: [
      new XMLHttpRequestInstrumentation({
        // The collector's own URL is never traced (exports would trace themselves).
        ignoreUrls: [new RegExp('^' + escaped(collectorUrl)), ...ignoreUrls],
        applyCustomAttributesOnSpan(span, xhr) {
          // The app map names the callee by peer.service, as the bot's own clients do.
          if (peerService) span.setAttribute('peer.service', peerService);
          if (onSpanEnd) onSpanEnd(span, xhr);
        },
      }),
    ],
  });
  return provider;
}

export function flush() {
  return provider ? provider.forceFlush() : Promise.resolve();
}
