#!/usr/bin/env node
/*
 * receiver.js - an OTLP/HTTP JSON receiver for tests/integration/test_otlp.sh
 * whose decoder none of us wrote: every request body is decoded with the
 * protobuf definitions the OpenTelemetry JS SDK ships
 * (@opentelemetry/otlp-transformer's generated protobufjs root, the
 * opentelemetry-proto messages), following OTLP's JSON mapping:
 *
 *   - trace / span ids are lowercase hex (16 / 8 bytes, not all zero), not
 *     proto3 JSON's base64;
 *   - enums are integers;
 *   - 64-bit integers (times, counts, intValue) are decimal strings;
 *   - field names are lowerCamelCase, and no field is unknown.
 *
 * A body is valid when (1) it is JSON, (2) protobufjs fromObject of it (ids
 * turned to bytes) gives an ExportTraceServiceRequest (/v1/traces) or an
 * ExportMetricsServiceRequest (/v1/metrics) whose toObject is the body again
 * - so no field was unknown, mistyped or coerced on the way -, and (3) that
 * message encoded to the protobuf wire format decodes and verifies. A real
 * Collector ignores unknown fields; here they are errors, since they are data
 * busmon meant to send and nobody would read.
 *
 * Valid: 200 with an empty Export*ServiceResponse. Invalid: 400 and a line on
 * stderr. Every request is appended to --out as one JSON line
 *
 *   {"n":1,"t_ms":12,"path":"/v1/traces","content_type":"application/json",
 *    "status":200,"valid":true,"error":null,"decoded":{...}}
 *
 * where decoded is the message as the definitions read it (ids in hex, int64s
 * as strings, enums as integers): what the test checks against its ground
 * truth. Exits by itself after --max-seconds (default 120), or on SIGTERM.
 *
 *   node receiver.js --out FILE [--port P] [--port-file F] [--max-seconds S]
 *                    [--no-decoded]
 *
 * --no-decoded leaves `decoded` out of the lines (the benchmark: it only counts).
 */
'use strict';

const http = require('http');
const fs = require('fs');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const TYPES = {
    '/v1/traces': root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest,
    '/v1/metrics': root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest,
};
/* the bytes fields of the trace and metrics messages, and their lengths */
const ID_BYTES = { traceId: 16, spanId: 8, parentSpanId: 8 };

function parseArgs(argv) {
    const o = { out: null, port: 0, portFile: null, maxSeconds: 120, decoded: true };
    for (let i = 2; i < argv.length; i++) {
        const a = argv[i];
        const val = () => {
            if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
            return argv[++i];
        };
        if (a === '--out') o.out = val();
        else if (a === '--port') o.port = Number(val());
        else if (a === '--port-file') o.portFile = val();
        else if (a === '--max-seconds') o.maxSeconds = Number(val());
        else if (a === '--no-decoded') o.decoded = false;
        else throw new Error(`unknown argument '${a}'`);
    }
    if (!o.out) throw new Error('--out FILE is required');
    return o;
}

/* ids: hex in the body, bytes (base64 for fromObject) in the message; where
 * is the JSON path for the error */
function hexIdsToBase64(v, where) {
    if (Array.isArray(v)) return v.map((x, i) => hexIdsToBase64(x, `${where}[${i}]`));
    if (v === null || typeof v !== 'object') return v;
    const r = {};
    for (const [k, x] of Object.entries(v)) {
        const here = `${where}.${k}`;
        if (k in ID_BYTES) {
            const n = ID_BYTES[k];
            const empty_ok = k === 'parentSpanId';
            if (typeof x !== 'string') throw new Error(`${here}: not a string`);
            if (!(empty_ok && x === '')) {
                if (!new RegExp(`^[0-9a-f]{${2 * n}}$`).test(x))
                    throw new Error(`${here}: '${x}' is not ${n} bytes of lowercase hex`);
                if (/^0+$/.test(x)) throw new Error(`${here}: all zero (invalid id)`);
            }
            r[k] = Buffer.from(x, 'hex').toString('base64');
        } else {
            r[k] = hexIdsToBase64(x, here);
        }
    }
    return r;
}

function base64IdsToHex(v) {
    if (Array.isArray(v)) return v.map(base64IdsToHex);
    if (v === null || typeof v !== 'object') return v;
    const r = {};
    for (const [k, x] of Object.entries(v))
        r[k] = k in ID_BYTES && typeof x === 'string' ? Buffer.from(x, 'base64').toString('hex')
                                                     : base64IdsToHex(x);
    return r;
}

/* the first difference between the body and its round trip, or null; an empty
 * array and an absent field are the same message in proto3 */
function firstDifference(a, b, where) {
    const absent = (x) => x === undefined || (Array.isArray(x) && x.length === 0);
    if (absent(a) && absent(b)) return null;
    if (Array.isArray(a) || Array.isArray(b)) {
        if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length)
            return `${where}: array expected on both sides`;
        for (let i = 0; i < a.length; i++) {
            const d = firstDifference(a[i], b[i], `${where}[${i}]`);
            if (d) return d;
        }
        return null;
    }
    if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
        for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
            if (!(k in b) && !absent(a[k])) return `${where}.${k}: unknown field (or wrong type), dropped by the decoder`;
            const d = firstDifference(a[k], b[k], `${where}.${k}`);
            if (d) return d;
        }
        return null;
    }
    if (a === b) return null;
    return `${where}: ${JSON.stringify(a)} decodes as ${JSON.stringify(b)} ` +
           '(int64 as a decimal string, enum as an integer, double as a number?)';
}

/* { decoded } or throws with the reason */
function decode(Type, text) {
    let body;
    try {
        body = JSON.parse(text);
    } catch (e) {
        throw new Error(`not JSON: ${e.message}`);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body))
        throw new Error('not a JSON object');
    const msg = Type.fromObject(hexIdsToBase64(body, ''));
    const back = base64IdsToHex(Type.toObject(msg, { longs: String, enums: Number, bytes: String, json: true }));
    const diff = firstDifference(body, back, '');
    if (diff) throw new Error(diff);
    const wire = Type.encode(msg).finish();
    const again = Type.decode(wire);
    const why = Type.verify(again);
    if (why) throw new Error(`protobuf round trip does not verify: ${why}`);
    return back;
}

function main() {
    let o;
    try {
        o = parseArgs(process.argv);
    } catch (e) {
        process.stderr.write(`receiver.js: ${e.message}\n`);
        process.exit(2);
    }
    const out = fs.openSync(o.out, 'a');
    const start = Date.now();
    let n = 0;
    const server = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const line = { n: ++n, t_ms: Date.now() - start, path: req.url,
                           content_type: req.headers['content-type'] || null };
            const Type = req.method === 'POST' ? TYPES[req.url] : undefined;
            let status = 200, error = null, decoded = null;
            if (!Type) {
                status = 404;
                error = `no OTLP endpoint ${req.method} ${req.url}`;
            } else if (!/^application\/json\b/.test(line.content_type || '')) {
                status = 415;
                error = `Content-Type ${line.content_type}, not application/json`;
            } else {
                try {
                    decoded = decode(Type, Buffer.concat(chunks).toString('utf8'));
                } catch (e) {
                    status = 400;
                    error = e.message;
                }
            }
            if (error) process.stderr.write(`receiver.js: INVALID request ${line.n} ${req.url}: ${error}\n`);
            Object.assign(line, { status, valid: !error, error });
            if (o.decoded) line.decoded = decoded;
            fs.writeSync(out, JSON.stringify(line) + '\n');
            res.writeHead(status, { 'Content-Type': 'application/json' });
            res.end(error ? JSON.stringify({ code: 3, message: error }) : '{}');
        });
    });
    server.listen(o.port, '127.0.0.1', () => {
        const port = server.address().port;
        process.stdout.write(`${port}\n`);
        if (o.portFile) fs.writeFileSync(o.portFile, `${port}\n`);
    });
    const stop = () => process.exit(0); /* lines are written synchronously */
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    setTimeout(() => process.exit(0), o.maxSeconds * 1000).unref();
}

main();
