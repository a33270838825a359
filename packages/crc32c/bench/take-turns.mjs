// Timing for ratios on a busy machine: the functions take turns, round after
// round, and each round is timed in CPU time of this process
// (process.cpuUsage), so the time spent waiting for a core while other work
// runs does not count. The median round of each function gives its figure.

const cpuNanoseconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
};

/**
 * Times each function of `functions` (name -> () => number) in `rounds`
 * rounds of about `roundMs` CPU milliseconds each, taking turns.
 * Returns name -> median nanoseconds per call.
 */
export function takeTurns(functions, { rounds = 25, roundMs = 20, warmupMs = 60 } = {}) {
  const names = Object.keys(functions);
  let sink = 0;
  const callsPerRound = {};
  for (const name of names) {
    const fn = functions[name];
    const start = cpuNanoseconds();
    let calls = 0;
    while (cpuNanoseconds() - start < warmupMs * 1e6) {
      for (let i = 0; i < 64; i++) sink ^= fn() | 0;
      calls += 64;
    }
    callsPerRound[name] = Math.max(1, Math.ceil((calls / warmupMs) * roundMs));
  }
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      const fn = functions[name];
      const calls = callsPerRound[name];
      const start = cpuNanoseconds();
      for (let i = 0; i < calls; i++) sink ^= fn() | 0;
      samples[name].push((cpuNanoseconds() - start) / calls);
    }
  }
  globalThis.__benchSink = sink;
  return Object.fromEntries(
    names.map((name) => {
      const sorted = samples[name].sort((a, b) => a - b);
      return [name, sorted[sorted.length >> 1]];
    }),
  );
}

/**
 * `calls` calls of `fn(data, crc)`, the running crc kept in a local and passed
 * back, as packages/log and packages/structs do. Each `fn` gets its own copy
 * of the loop (compiled from source), so every call site sees one function, as
 * a caller's call site does; one shared loop would see all the peers and be
 * slower for each.
 */
export function runningCrcLoop(fn) {
  const makeLoop = new Function(
    "fn",
    "return (data, calls) => { let crc = 0; for (let i = 0; i < calls; i++) crc = fn(data, crc); return crc; };",
  );
  return makeLoop(fn);
}
