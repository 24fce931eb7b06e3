// `npm start`: the whole system in one process. Ctrl-C (or SIGTERM) stops it cleanly.
import { runAllInOne } from './run-all-in-one.js';

runAllInOne(process.env).catch((error: unknown) => {
  console.error(`deploybus could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
