/** The worker thread of the validator's HTTP edge (edge.ts): listens, relays, reports refusals and tunnels, closes on request. */
import { parentPort, workerData } from "node:worker_threads";
import { EdgeServer, type EdgeOptions, type EdgeWorkerMessage } from "./edge.js";

const port = parentPort!;
const post = (message: EdgeWorkerMessage) => port.postMessage(message);
try {
  const edge = await EdgeServer.listen(workerData as EdgeOptions, (code) => post({ refused: code }), () => post({ tunneled: true }));
  port.on("message", () => void edge.close().then(() => post({ closed: true })));
  post({ listening: edge.port });
} catch (error) {
  post({ failed: (error as Error).message });
}
