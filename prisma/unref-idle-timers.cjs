// Loaded with `node --require` into the Prisma CLI when the platform applies migrations: Prisma 6.19's
// WebAssembly schema engine leaves a 10 s timer behind on PostgreSQL, so `migrate deploy` sat idle for
// 10 s after its work was done (every new database, every replica's start). Long timers are made
// unref'd: they still fire while the engine works, but no longer keep a finished process alive.
const setTimeoutOriginal = global.setTimeout;
global.setTimeout = function setTimeoutUnrefLong(callback, ms, ...args) {
  const timer = setTimeoutOriginal(callback, ms, ...args);
  if (typeof ms === 'number' && ms >= 5000) timer.unref?.();
  return timer;
};
