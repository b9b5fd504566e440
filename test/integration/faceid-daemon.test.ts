import test from 'ava';
import { startSim } from '../../hw-sim/sim.js';
import { findCalibration } from '../../src/faceid/calibration.js';
import { killQuietly, runDaemon } from '../helpers/daemon.js';
import { Watcher, type Seen } from '../helpers/watch.js';

const json = (m: Seen) => JSON.parse(m.payload);

test('the daemon loads the face models at boot and reports what loaded, how long it took and the threshold of that model', async (t) => {
  const sim = await startSim({ brokerPort: 0, deviceId: 'face-boot', scanner: 'tcp', faceid: true });
  t.teardown(() => sim.stop());
  const w = await Watcher.start(sim.broker.url, 'kiosk/face-boot/#');
  t.teardown(() => w.stop());
  const d = runDaemon(sim.config, sim.daemonEnv);
  t.teardown(() => killQuietly(d));
  const info = await w.waitFor((m) => m.topic === 'kiosk/face-boot/info' && json(m).faceid != null, 60_000);
  const f = json(info).faceid;
  t.like(f, { backend: 'wasm', threshold: findCalibration(f.model_sha256).threshold });
  t.regex(f.recognizer, /fr_feature/); // the default recogniser
  t.true(f.load_ms > 0 && f.warmup_ms > 0);
  await d.waitForOutput(/face models loaded/, 5_000);
  // Ready for patients only once the models are in.
  const idle = await w.waitFor((m) => m.topic === 'kiosk/face-boot/state' && json(m).mode !== 'booting', 30_000);
  t.true(w.seen.indexOf(idle) > w.seen.indexOf(info));
});

test('face models that cannot load leave the kiosk running, with an alert that says why', async (t) => {
  const sim = await startSim({
    brokerPort: 0,
    deviceId: 'face-bad',
    scanner: 'tcp',
    faceid: true,
    configOverrides: { faceid: { recognizer: { model: '/nonexistent/recogniser.onnx' } } },
  });
  t.teardown(() => sim.stop());
  const w = await Watcher.start(sim.broker.url, 'kiosk/face-bad/#');
  t.teardown(() => w.stop());
  const d = runDaemon(sim.config, sim.daemonEnv);
  t.teardown(() => killQuietly(d));
  const alert = await w.waitFor((m) => m.topic === 'kiosk/face-bad/event/alert' && json(m).data.code === 'faceid.unavailable', 60_000);
  t.regex(json(alert).data.message, /face verification unavailable: .*\/nonexistent\/recogniser.onnx/);
  await w.waitFor((m) => m.topic === 'kiosk/face-bad/state' && json(m).mode === 'idle', 30_000);
  t.is(d.proc.exitCode, null, 'still running');
});
