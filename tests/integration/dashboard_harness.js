// dashboard_harness.js - runs the dashboard's script (agent/http/dashboard.html)
// in node against a fake DOM, fake timers and a fake fetch whose answers the
// test gives or withholds, so what the page asks the agent for, and when, can
// be checked without a browser and without waiting in real time.
//
//   node dashboard_harness.js PAGE.html
//
// One line per check, "ok - ..." or "FAIL - ...", as tests/integration/lib.sh
// prints them; the exit status is the number of failures (capped at 100).
"use strict";
const fs = require("fs");
const vm = require("vm");

const html = fs.readFileSync(process.argv[2], "utf8");
const script = html.match(/<script>([\s\S]*?)<\/script>/)[1];
let failures = 0;
function check(what, ok, detail)
{
    if (ok)
        console.log("ok - " + what);
    else {
        failures++;
        console.log("FAIL - " + what + (detail !== undefined ? " (" + detail + ")" : ""));
    }
}

/* One page: a fresh context with its own DOM, clock and network. */
function page(hash)
{
    const elements = new Map();
    function makeEl(tag)
    {
        const e = {
            tag,
            children : [],
            dataset : {},
            style : {},
            listeners : {},
            textContent : "",
            className : "",
            value : "",
            classList : {add() {}, remove() {}},
            appendChild(c) {
                this.children.push(c);
                return c;
            },
            replaceChildren(...c) {
                this.children = c;
            },
            setAttribute(k, v) {
                this["@" + k] = v;
            },
            addEventListener(t, f) {
                (this.listeners[t] = this.listeners[t] || []).push(f);
            },
            querySelectorAll() {
                return [];
            },
            scrollIntoView() {},
            dispatchEvent() {},
            closest() {
                return null;
            },
        };
        Object.defineProperty(e, "innerHTML", {
            set() {
                throw new Error("innerHTML assigned");
            }
        });
        return e;
    }
    const document = {
        getElementById(id) {
            if (!elements.has(id)) elements.set(id, makeEl("#" + id));
            return elements.get(id);
        },
        querySelector(sel) {
            return document.getElementById(sel);
        },
        querySelectorAll() {
            return [];
        },
        createElement : makeEl,
        createElementNS(ns, tag) {
            return makeEl(tag);
        },
        body : makeEl("body"),
    };
    // timers: run only when the test moves the clock
    let now = 0, nextId = 1;
    const timers = new Map();
    function addTimer(fn, ms, every)
    {
        const id = nextId++;
        timers.set(id, {at : now + (ms || 0), fn, every});
        return id;
    }
    // the network: every request waits until the test answers it
    const requests = [];
    function fetch(url, opts)
    {
        return new Promise((resolve, reject) => {
            const rq = {url, opts, resolve, reject, done : false};
            requests.push(rq);
            if (opts && opts.signal)
                opts.signal.addEventListener("abort", () => {
                    if (!rq.done) {
                        rq.done = true;
                        reject(opts.signal.reason);
                    }
                });
        });
    }
    const windowListeners = {};
    const location = {hash : hash || ""};
    const ctx = {
        document,
        location,
        fetch,
        URLSearchParams,
        AbortController,
        console,
        setTimeout : (fn, ms) => addTimer(fn, ms, 0),
        setInterval : (fn, ms) => addTimer(fn, ms, ms),
        clearTimeout : id => timers.delete(id),
        clearInterval : id => timers.delete(id),
        MouseEvent : class {
            constructor(t) {
                this.type = t;
            }
        },
    };
    ctx.window = {
        addEventListener(t, f) {
            (windowListeners[t] = windowListeners[t] || []).push(f);
        }
    };
    vm.createContext(ctx);
    let error = null;
    try {
        vm.runInContext(script, ctx);
    } catch (e) {
        error = e;
    }
    const settle = () => new Promise(r => setImmediate(r)); // the page's promise chains run
    return {
        error,
        requests,
        document,
        location,
        pending() {
            return requests.filter(r => !r.done);
        },
        async answerAll(body) {
            for (const r of requests.filter(r => !r.done)) {
                r.done = true;
                const json = body ? body(r.url) : {};
                r.resolve({ok : true, status : 200, json : () => Promise.resolve(json)});
            }
            for (let i = 0; i < 5; i++)
                await settle();
        },
        async answerOne(pred, json) { // the first pending request pred picks
            const r = requests.find(r => !r.done && pred(r.url));
            if (!r) return false;
            r.done = true;
            r.resolve({ok : true, status : 200, json : () => Promise.resolve(json)});
            for (let i = 0; i < 5; i++)
                await settle();
            return true;
        },
        async answerStatus(status) { // every pending request answered with an error
            for (const r of requests.filter(r => !r.done)) {
                r.done = true;
                r.resolve({
                    ok : false,
                    status,
                    json : () => Promise.resolve({error : "HTTP " + status, status})
                });
            }
            for (let i = 0; i < 5; i++)
                await settle();
        },
        async advance(ms) {
            const end = now + ms;
            for (;;) {
                let due = null;
                for (const [id, t] of timers)
                    if (t.at <= end && (!due || t.at < due[1].at)) due = [ id, t ];
                if (!due) break;
                now = due[1].at;
                if (due[1].every)
                    due[1].at += due[1].every;
                else
                    timers.delete(due[0]);
                due[1].fn();
                for (let i = 0; i < 5; i++)
                    await settle();
            }
            now = end;
            for (let i = 0; i < 5; i++)
                await settle();
        },
        async hashchange(h) {
            location.hash = h;
            for (const f of windowListeners.hashchange || [])
                f();
            for (let i = 0; i < 5; i++)
                await settle();
        },
    };
}

const apiTraces = url => url.startsWith("api/traces?")
                             ? {traces : [], count : 0, matched : 0, scanned : 0, limited : false}
                             : {};

(async () => {
    /* Polling: a round of requests at a time. An agent slower than the poll
     * interval gets no second round while the first is unanswered. */
    {
        const p = page("");
        check("the script runs", !p.error, p.error && String(p.error));
        await p.advance(0);
        const round = p.requests.length;
        check("the first round asks the API (" + round + " requests)", round >= 5);
        await p.advance(6000); // three poll intervals, the agent answering nothing
        check("no new round while the last is unanswered (slow agent)", p.requests.length === round,
              p.requests.length + " requests, " + p.pending().length + " unanswered");
        await p.answerAll(apiTraces);
        await p.advance(2000);
        check("the next round 2 s after the last one's answers", p.requests.length === 2 * round,
              p.requests.length + " requests");
        check("the page says it loaded", p.document.body.dataset.loaded === "1");
        // a round the agent never answers ends by itself (each request has a deadline)
        await p.advance(30000);
        check("a request never answered is given up (the banner says so)",
              p.document.getElementById("banner").style.display === "block",
              p.pending().length + " unanswered");
        check("polling goes on after a round that got no answer", p.requests.length > 2 * round,
              p.requests.length + " requests");
        // the range selector asks at once, but never doubles the polling loop
        await p.answerAll(apiTraces);
        const before = p.requests.length;
        const range = p.document.getElementById("range");
        for (const f of range.listeners.change || [])
            f({target : {value : "6h"}});
        for (const f of range.listeners.change || [])
            f({target : {value : "24h"}});
        await p.advance(0);
        check("a range change asks the agent at once (one round)",
              p.requests.length === before + round, (p.requests.length - before) + " new requests");
        await p.answerAll(apiTraces);
        await p.advance(0);
        const after = p.requests.length;
        check("the range last chosen is asked for",
              p.requests.slice(before).some(r => r.url === "api/system?window=24h"));
        await p.answerAll(apiTraces);
        await p.advance(2000);
        const n1 = p.requests.length - after;
        await p.answerAll(apiTraces);
        await p.advance(2000);
        const n2 = p.requests.length - after - n1;
        check("still one round per 2 s after range changes", n1 <= round && n2 <= round,
              n1 + ", " + n2);
    }

    /* The fragment: an id with &, +, %, = and a space opens that transaction. */
    {
        const tx = "a&b+c%41 d=e";
        const p = page("");
        await p.advance(0);
        await p.answerAll(apiTraces);
        await p.hashchange("#tx=" + encodeURIComponent(tx)); // what a row's link sets
        const asked = p.requests.filter(r => r.url.startsWith("api/traces/")).map(r => r.url);
        check("#tx=<id> asks for that transaction",
              asked.includes("api/traces/" + encodeURIComponent(tx)), asked.join(" "));
        const worker = "w+1&x=%41";
        await p.hashchange("#traces?" +
                           new URLSearchParams({worker}).toString()); // a worker row's link
        const last = p.requests.filter(r => r.url.startsWith("api/traces?")).pop();
        const got =
            last && new URLSearchParams(last.url.slice(last.url.indexOf("?") + 1)).get("worker");
        check("#traces?worker=<name> searches that worker", got === worker, got);
        check("the search form shows that worker",
              p.document.getElementById("f-worker").value === worker,
              p.document.getElementById("f-worker").value);
    }

    /* More business metric series than the page asks for: it says how many
     * it shows. */
    {
        const p = page("");
        await p.advance(0);
        const series = [];
        for (let i = 0; i < 50; i++)
            series.push({
                name : "m" + i,
                kind : "counter",
                tags : {},
                count : 1,
                sum : 1,
                rate_per_s : 0.1
            });
        await p.answerAll(url => url.startsWith("api/metrics")
                                     ? {series, matched : 80, limited : true}
                                     : apiTraces(url));
        const note = p.document.getElementById("metrics-note").textContent;
        check("50 of 80 metric series: the page says so", note === "first 50 of 80 series", note);
    }

    /* An agent with http.token_file: the API answers 401 until the page
     * sends the token, which the operator types into the form it shows. */
    {
        const p = page("");
        await p.advance(0);
        check("no token asked for before the agent asks",
              p.document.getElementById("auth").hidden !== false);
        await p.answerStatus(401);
        check("a 401 shows the field for the token",
              p.document.getElementById("auth").hidden === false);
        const banner = p.document.getElementById("banner");
        check("the banner says the agent asks for its token",
              banner.style.display === "block" &&
                  /asks for its HTTP token/.test(banner.textContent),
              banner.textContent);
        p.document.getElementById("auth-token").value = " s3cret ";
        let prevented = false;
        for (const f of p.document.getElementById("auth").listeners.submit || [])
            f({
                preventDefault() {
                    prevented = true;
                }
            });
        await p.advance(0);
        const sent = p.pending();
        check("the form is not sent anywhere (the page stays)", prevented);
        check("the token is asked with at once, on every request of the round",
              sent.length >= 5 && sent.every(r => r.opts && r.opts.headers &&
                                                  r.opts.headers.Authorization === "Bearer s3cret"),
              sent.map(r => r.opts && r.opts.headers && r.opts.headers.Authorization).join(","));
        check("the field is emptied", p.document.getElementById("auth-token").value === "");
        await p.answerAll(apiTraces);
        check("answered: the field is hidden again",
              p.document.getElementById("auth").hidden === true);
        await p.advance(2000);
        check("the next round carries the token too",
              p.pending().length >= 5 &&
                  p.pending().every(r => r.opts && r.opts.headers &&
                                         r.opts.headers.Authorization === "Bearer s3cret"));
    }

    /* The waterfall of a saga: a command that succeeded, its compensation
     * answered with a failure. The failed compensation is red and counted
     * as failed; the summary counts commands and compensations apart; a
     * bar's title gives the worker's reported duration. */
    {
        const p = page("#tx=saga");
        await p.advance(0);
        const ev = (o) =>
            Object.assign({worker : "w", step : null, cmd : null, duration_ms : null}, o);
        const trace = {
            tx : "saga",
            status : "failed",
            duration_ms : 900,
            started_at : "2026-12-05T10:00:00Z",
            events : [
                ev({
                    id : "c1",
                    type : "command",
                    stage : "requested",
                    step : "pay",
                    ts_us : 0,
                    paired_with : "r1"
                }),
                ev({
                    id : "r1",
                    type : "result",
                    stage : "completed",
                    ts_us : 400000,
                    duration_ms : 120,
                    paired_with : "c1"
                }),
                ev({
                    id : "k1",
                    type : "compensation",
                    stage : "requested",
                    step : "refund",
                    ts_us : 500000,
                    paired_with : "e1"
                }),
                ev({
                    id : "e1",
                    type : "error",
                    stage : "failed",
                    ts_us : 900000,
                    paired_with : "k1"
                }),
            ],
        };
        await p.answerAll(url => url === "api/traces/saga" ? trace : apiTraces(url));
        const svg = p.document.getElementById("waterfall");
        const bars = svg.children.filter(e => e.tag === "rect");
        const cls = id => (bars.find(b => b["@data-cmd"] === id) || {})["@class"];
        check("waterfall: the command answered with success is green", cls("c1") === "bar ok",
              cls("c1"));
        check("waterfall: a compensation answered with a failure is red", cls("k1") === "bar err",
              cls("k1"));
        check("waterfall: the failed compensation counts as failed", svg.dataset.errors === "1",
              svg.dataset.errors);
        const sum = p.document.getElementById("wf-summary").textContent;
        check("waterfall: the summary counts commands and compensations apart",
              / 1 commands, 1 compensations, 1 failed /.test(sum), sum);
        const title = bars.find(b => b["@data-cmd"] === "c1").children[0].textContent;
        check("waterfall: a bar's title gives the reported duration (120 ms), not the gap (400 ms)",
              /completed after 120/.test(title), title);
    }

    /* Answers in another order than asked: a slow answer to an earlier
     * search or pick does not replace the latest one's. */
    {
        const p = page("");
        await p.advance(0);
        await p.answerAll(apiTraces);
        await p.hashchange("#tx=first");
        await p.hashchange("#tx=second");
        const tr = tx => ({tx, status : "completed", duration_ms : 1, events : []});
        await p.answerOne(u => u === "api/traces/second", tr("second"));
        const late = await p.answerOne(u => u === "api/traces/first", tr("first"));
        check("waterfall: both picks were asked", late);
        const title = p.document.getElementById("wf-title").textContent;
        check("waterfall: the later pick stays shown when the earlier one's answer comes last",
              title === "second", title);
        await p.hashchange("#traces?worker=slow");
        await p.hashchange("#traces?worker=quick");
        const list = n => ({traces : [], count : 0, matched : 0, scanned : n, limited : false});
        await p.answerOne(u => u.includes("worker=quick"), list(2));
        const slow = await p.answerOne(u => u.includes("worker=slow"), list(1));
        check("search: both searches were asked", slow);
        const note = p.document.getElementById("traces-note").textContent;
        check("search: the later search's answer stays shown when the earlier one's comes last",
              / of 2 in memory/.test(note), note);
    }

    /* A fragment that is not valid percent-encoding (typed by hand) does not
     * stop the page. */
    {
        const p = page("#traces?worker=100%");
        check("a malformed fragment does not stop the script", !p.error,
              p.error && String(p.error));
        await p.advance(0);
        check("the page polls with a malformed fragment",
              p.requests.some(r => r.url.startsWith("api/stats")));
    }
    process.exit(Math.min(failures, 100));
})();
