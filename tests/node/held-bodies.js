// Catalog case 1 against real Node: a pool of 5 (http.Agent), 20 sequential requests whose
// bodies are held unread, a server that closes a socket idle for 300 ms (180 s / 600).
// Usage: node held-bodies.js BODY_BYTES  -> prints one JSON line {heads_ms: [...]}.
const http = require('http');
const bodyBytes = Number(process.argv[2] || 65536);
const body = Buffer.alloc(bodyBytes, 120);
const server = http.createServer((req, res) => {
  res.setHeader('content-length', bodyBytes);
  res.end(body);
});
server.keepAliveTimeout = 300; // the idle timeout, as the simulated server's
server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 5 });
  const start = process.hrtime.bigint();
  const heads = [];
  const held = [];
  let n = 0;
  const next = () => {
    if (n++ >= 20) return;
    const req = http.get({ host: '127.0.0.1', port, agent, path: '/' }, (res) => {
      heads.push(Number(process.hrtime.bigint() - start) / 1e6);
      held.push(res); // never read
      next();
    });
    req.on('error', () => {});
  };
  next();
  setTimeout(() => {
    console.log(JSON.stringify({ body_bytes: bodyBytes, heads_ms: heads.map((t) => Math.round(t)), client_sockets: Object.values(agent.sockets).reduce((a, s) => a + s.length, 0) }));
    process.exit(0);
  }, 4500);
});
