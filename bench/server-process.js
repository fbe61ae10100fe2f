// A benchmark's server processes: started, waited for until they say where they listen, and
// stopped (SIGTERM, then SIGKILL after 10 s). Shared by bench/load.js and bench/nodes.js.

'use strict';

/** Resolves with `{ child, address, pid }` once `child` prints `listening on http://…`. */
function untilListening(child, label, timeoutMs = 30000) {
  child.stderr.resume();
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${label} did not start: ${output}`)), timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = output.match(/listening on http:\/\/(\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve({ child, address: match[1], pid: child.pid });
      }
    });
    child.once('exit', (code) => reject(new Error(`${label} exited with ${code}: ${output}`)));
  });
}

/** Stops a server started with `untilListening`. */
async function stopServer(server) {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 10000);
  await exited;
  clearTimeout(timer);
}

module.exports = { untilListening, stopServer };
