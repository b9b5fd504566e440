export { Watcher, type Seen } from '../../hw-sim/watch.js';
export { KioskClient, type KioskMessage, type Received } from '../../src/mqtt/kiosk-client.js';
