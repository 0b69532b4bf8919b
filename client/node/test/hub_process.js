'use strict';
// A real pulse_hub on a free loopback port for the tests. The hub announces itself on one
// stdout line, "pulse_hub <id> listening on HOST:PORT", once it serves: waiting for that
// line, with a deadline, is the readiness condition. stop() sends SIGTERM, which the hub
// answers with a clean exit 0.
const { spawn } = require('child_process');

async function startHub(binary, dataDir, flags = [], startupMs = 30000) {
  const child = spawn(binary,
    ['--listen=127.0.0.1:0', `--data_dir=${dataDir}`, '--log_level=warning', '--metrics_listen=',
      ...flags],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const address = await new Promise((resolve, reject) => {
    let buffer = '';
    let settled = false;
    const timer = setTimeout(() => fail(new Error('pulse_hub did not report its address')), startupMs);
    function fail(error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    }
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0 || settled) return;
      const line = buffer.slice(0, newline);
      if (!line.includes(' listening on ')) return fail(new Error(`unexpected line: ${line}`));
      settled = true;
      clearTimeout(timer);
      resolve(line.split(' ').pop());
    });
    child.once('exit', (code) => fail(new Error(`pulse_hub exited early (${code})`)));
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    address,
    // Resolves to the exit code; rejects if the hub outlives the deadline.
    async stop(deadlineMs = 30000) {
      child.kill('SIGTERM');
      let timer;
      const late = new Promise((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error('pulse_hub did not stop after SIGTERM'));
        }, deadlineMs);
      });
      try {
        return (await Promise.race([exited, late])).code;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

module.exports = { startHub };
