// Export spans, log records and metrics with the OpenTelemetry JS SDK, then exit.
//
//   node send.js proto|json|grpc ENDPOINT SERVICE [--gzip] [--token T]
//
// ENDPOINT is the collector's base URL (http://127.0.0.1:4318 for OTLP/HTTP, the gRPC
// address for grpc). Prints "RESULT " and a JSON line: the trace ids it made and every
// failed export; exits 0 only when every export succeeded. The packages come from .tools/otel-js (NODE_PATH).
"use strict";

const api = require("@opentelemetry/api");
const { SeverityNumber } = require("@opentelemetry/api-logs");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { BasicTracerProvider, SimpleSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { LoggerProvider, SimpleLogRecordProcessor } = require("@opentelemetry/sdk-logs");
const { MeterProvider, PeriodicExportingMetricReader } = require("@opentelemetry/sdk-metrics");

const [protocol, endpoint, service, ...rest] = process.argv.slice(2);
const gzip = rest.includes("--gzip");
const tokenAt = rest.indexOf("--token");
const token = tokenAt >= 0 ? rest[tokenAt + 1] : undefined;
if (!["proto", "json", "grpc"].includes(protocol) || !endpoint || !service) {
  console.error("usage: node send.js proto|json|grpc ENDPOINT SERVICE [--gzip] [--token T]");
  process.exit(2);
}
api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.ERROR);

const failures = [];
let exported = 0;
// The SDK reports a failed export only through diag; wrap each exporter to count them.
function recorded(signal, exporter) {
  const original = exporter.export.bind(exporter);
  exporter.export = (items, done) => original(items, (result) => {
    exported += 1;
    if (result.code !== 0) failures.push(`${signal}: ${result.error && result.error.message}`);
    done(result);
  });
  return exporter;
}

// A refused export rejects the flush too; it is already counted, so carry on.
async function settled(promise) {
  try { await promise; } catch (error) { /* recorded by the wrapped exporter */ }
}

function exporters() {
  const compression = gzip ? "gzip" : "none";
  if (protocol === "grpc") {
    // gRPC exporters send OTEL_EXPORTER_OTLP_HEADERS as metadata.
    if (token) process.env.OTEL_EXPORTER_OTLP_HEADERS = `authorization=Bearer ${token}`;
    const config = { url: endpoint, compression };
    return [
      new (require("@opentelemetry/exporter-trace-otlp-grpc").OTLPTraceExporter)(config),
      new (require("@opentelemetry/exporter-logs-otlp-grpc").OTLPLogExporter)(config),
      new (require("@opentelemetry/exporter-metrics-otlp-grpc").OTLPMetricExporter)(config),
    ];
  }
  const flavour = protocol === "proto" ? "proto" : "http";
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const options = (path) => ({ url: `${endpoint}${path}`, compression, headers });
  return [
    new (require(`@opentelemetry/exporter-trace-otlp-${flavour}`).OTLPTraceExporter)(options("/v1/traces")),
    new (require(`@opentelemetry/exporter-logs-otlp-${flavour}`).OTLPLogExporter)(options("/v1/logs")),
    new (require(`@opentelemetry/exporter-metrics-otlp-${flavour}`).OTLPMetricExporter)(options("/v1/metrics")),
  ];
}

async function main() {
  const [spanExporter, logExporter, metricExporter] = exporters();
  const resource = resourceFromAttributes({
    "service.name": service, "service.version": "2.3.4", "deployment.environment": "test",
  });

  const tracerProvider = new BasicTracerProvider({
    resource, spanProcessors: [new SimpleSpanProcessor(recorded("traces", spanExporter))],
  });
  const tracer = tracerProvider.getTracer("send.js", "1.0.0");
  const linked = tracer.startSpan("linked-root");
  linked.end();
  const parent = tracer.startSpan("parent", {
    kind: api.SpanKind.SERVER,
    attributes: {
      s: "text", b: true, i: 42, d: 1.5, big: 2 ** 53 - 1, nan: NaN, inf: Infinity,
      strs: ["a", "b"], ints: [1, 2], doubles: [0.5, 1.5], bools: [true, false],
      // Half an emoji: a lone surrogate, as a JS string cut in the wrong place has.
      cut: "emoji \ud83d",
      "activity.conversation.id": `conv-${service}`,
    },
  });
  parent.addEvent("turn.started", { "event.attr": "x", n: 7 });
  const context = api.trace.setSpan(api.context.active(), parent);
  const child = tracer.startSpan("child", {
    kind: api.SpanKind.CLIENT,
    attributes: { "peer.service": "qna" },
    links: [{ context: linked.spanContext(), attributes: { "link.kind": "follows" } }],
  }, context);
  child.setStatus({ code: api.SpanStatusCode.ERROR, message: "boom" });
  child.end();
  parent.end();
  await settled(tracerProvider.forceFlush());
  await settled(tracerProvider.shutdown());

  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new SimpleLogRecordProcessor({ exporter: recorded("logs", logExporter) })],
  });
  const logger = loggerProvider.getLogger("send.js", "1.0.0");
  // In the parent span's context (no context manager is registered, so it is passed).
  logger.emit({ context, severityNumber: SeverityNumber.INFO, severityText: "INFO",
    body: "hello from js", attributes: { k: "v", n: 1 } });
  logger.emit({ context, eventName: "js.field_event", body: { nested: { list: [1, "two"] } } });
  logger.emit({ context, attributes: { "event.name": "js.attribute_event", n: 2 } });
  logger.emit({ context, attributes: { "microsoft.custom_event.name": "JsCustomEvent", answer: "yes" } });
  logger.emit({ context, severityNumber: SeverityNumber.WARN }); // a severity number, nothing else
  await settled(loggerProvider.forceFlush());
  await settled(loggerProvider.shutdown());

  const reader = new PeriodicExportingMetricReader({
    exporter: recorded("metrics", metricExporter), exportIntervalMillis: 600000,
  });
  const meterProvider = new MeterProvider({ resource, readers: [reader] });
  const meter = meterProvider.getMeter("send.js", "1.0.0");
  meter.createCounter("js.requests").add(3, { route: "/x" });
  meter.createGauge("js.temperature", { unit: "Cel" }).record(21.5);
  const latency = meter.createHistogram("js.latency", { unit: "ms" });
  for (const value of [3, 12, 12, 40, 700]) latency.record(value);
  await settled(meterProvider.shutdown());

  console.log("RESULT " + JSON.stringify({
    trace_id: parent.spanContext().traceId,
    linked_trace_id: linked.spanContext().traceId,
    exports: exported,
    failures,
  }));
  process.exitCode = failures.length ? 1 : 0;
}

main().catch((error) => { console.error(error); process.exitCode = 1; });
