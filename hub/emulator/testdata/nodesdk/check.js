// Runs the official Azure IoT Hub Node service SDK (azure-iothub) against a
// hub, through both its Registry class and its generated protocol-layer
// client, and prints one line per check: "ok <name>" or "FAIL <name>: why".
// It exits 1 if any check failed.
//
//   IOTHUB_CONNECTION_STRING=HostName=...;SharedAccessKeyName=iothubowner;SharedAccessKey=... node check.js
//
// The hub must start empty: the counts of queries and statistics are exact.
// The SDK talks HTTPS to HostName on port 443 (its Registry has no way to
// name another port), so the hub's certificate must be trusted by node
// (NODE_EXTRA_CA_CERTS).
'use strict';

const assert = require('node:assert/strict');
const { Registry, IoTHubTokenCredentials } = require('azure-iothub');
const { IotHubGatewayServiceAPIs } = require('azure-iothub/dist/pl/iotHubGatewayServiceAPIs');

const cs = process.env.IOTHUB_CONNECTION_STRING;
if (!cs) {
  console.error('IOTHUB_CONNECTION_STRING is not set');
  process.exit(2);
}
const hostName = /(?:^|;)HostName=([^;]+)/.exec(cs)[1];

let failed = 0;
let passed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed++;
    const body = err && (err.responseBody || (err.response && err.response.body));
    console.log(`FAIL ${name}: ${err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : err}${body ? ` | body: ${body}` : ''}`);
  }
}

// rejects asserts that p fails with an error of the SDK class named want
// (DeviceNotFoundError...) or, for the protocol layer, the HTTP status and
// the hub's error code.
async function rejects(p, want) {
  let err;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `succeeded, want ${JSON.stringify(want)}`);
  if (typeof want === 'string') {
    assert.equal(err.constructor.name, want, `error ${err.constructor.name}: ${err.message}`);
    return err;
  }
  assert.equal(err.statusCode, want.status, `status ${err.statusCode}: ${err.message}`);
  if (want.code) {
    // ms-rest-js keeps the response text in response.body of its RestError.
    assert.match(String(err.response && err.response.body), new RegExp(`ErrorCode:${want.code};`));
  }
  return err;
}

const quote = (etag) => `"${etag}"`;

// removeModule(module) without a callback throws "Argument 'done' cannot be
// falsy" in azure-iothub 1.16.6 (its promise form loses the callback when
// given a module), so it is called with one.
const removeModule = (registry, module) => new Promise((resolve, reject) => {
  registry.removeModule(module, (err) => (err ? reject(err) : resolve()));
});
const run = Date.now().toString(36);

async function registryChecks() {
  const registry = Registry.fromConnectionString(cs);
  const id = `node-reg-${run}`;
  let device;

  await check('Registry.create makes a device with keys and an etag', async () => {
    const { responseBody } = await registry.create({ deviceId: id });
    assert.equal(responseBody.deviceId, id);
    assert.ok(responseBody.etag, 'no etag');
    assert.ok(responseBody.authentication.symmetricKey.primaryKey, 'no generated primary key');
    device = responseBody;
  });
  await check('Registry.create on a taken id is DeviceAlreadyExistsError', async () => {
    await rejects(registry.create({ deviceId: id }), 'DeviceAlreadyExistsError');
  });
  await check('Registry.get returns the device and its etag', async () => {
    const { responseBody } = await registry.get(id);
    assert.equal(responseBody.deviceId, id);
    assert.equal(responseBody.etag, device.etag);
  });
  await check('Registry.get of a missing device is DeviceNotFoundError', async () => {
    await rejects(registry.get(`${id}-missing`), 'DeviceNotFoundError');
  });
  await check('Registry.update (If-Match *) disables the device and changes its etag', async () => {
    const { responseBody } = await registry.update({ ...device, status: 'disabled', statusReason: 'node sdk' });
    assert.equal(responseBody.status, 'disabled');
    assert.notEqual(responseBody.etag, device.etag);
    device = responseBody;
  });
  await check('Registry.list includes the device', async () => {
    const { responseBody } = await registry.list();
    assert.ok(responseBody.some((d) => d.deviceId === id), 'device not listed');
  });

  let mod;
  await check('Registry.addModule creates a module identity', async () => {
    const { responseBody } = await registry.addModule({ deviceId: id, moduleId: 'm1' });
    assert.equal(responseBody.moduleId, 'm1');
    assert.ok(responseBody.etag, 'no etag');
    mod = responseBody;
  });
  await check('Registry.addModule on a taken id is DeviceAlreadyExistsError', async () => {
    await rejects(registry.addModule({ deviceId: id, moduleId: 'm1' }), 'DeviceAlreadyExistsError');
  });
  await check('Registry.getModule and getModulesOnDevice', async () => {
    const { responseBody } = await registry.getModule(id, 'm1');
    assert.equal(responseBody.etag, mod.etag);
    const list = await registry.getModulesOnDevice(id);
    assert.deepEqual(list.responseBody.map((m) => m.moduleId), ['m1']);
  });
  let staleModule;
  await check('Registry.updateModule with the etag (If-Match) changes the etag', async () => {
    staleModule = mod;
    const { responseBody } = await registry.updateModule({ ...mod, managedBy: 'node-sdk' });
    assert.equal(responseBody.managedBy, 'node-sdk');
    assert.notEqual(responseBody.etag, mod.etag);
    mod = responseBody;
  });
  await check('Registry.updateModule with a stale etag is InvalidEtagError (412)', async () => {
    const err = await rejects(registry.updateModule({ ...staleModule, managedBy: 'late' }), 'InvalidEtagError');
    assert.equal(err.response.statusCode, 412);
  });
  await check('Registry.removeModule with a stale etag is InvalidEtagError (412)', async () => {
    await rejects(removeModule(registry, staleModule), 'InvalidEtagError');
  });

  let twin;
  await check('Registry.getModuleTwin returns a twin with an etag', async () => {
    ({ responseBody: twin } = await registry.getModuleTwin(id, 'm1'));
    assert.equal(twin.moduleId, 'm1');
    assert.ok(twin.etag, 'no etag');
  });
  await check('Registry.updateModuleTwin with the etag merges desired properties', async () => {
    const { responseBody } = await registry.updateModuleTwin(id, 'm1',
      { tags: { site: 'lyon' }, properties: { desired: { interval: 5 } } }, twin.etag);
    assert.equal(responseBody.tags.site, 'lyon');
    assert.equal(responseBody.properties.desired.interval, 5);
    assert.notEqual(responseBody.etag, twin.etag);
  });
  await check('Registry.updateModuleTwin with a stale etag is InvalidEtagError (412)', async () => {
    await rejects(registry.updateModuleTwin(id, 'm1', { tags: { site: 'porto' } }, twin.etag), 'InvalidEtagError');
  });
  await check('Twin.update keeps the etag between updates and fails on a stale one', async () => {
    const { responseBody: fresh } = await registry.getModuleTwin(id, 'm1');
    const { responseBody: other } = await registry.getModuleTwin(id, 'm1');
    await fresh.update({ properties: { desired: { interval: 6 } } });
    await fresh.update({ properties: { desired: { interval: 7 } } });
    assert.equal(fresh.properties.desired.interval, 7);
    await rejects(other.update({ properties: { desired: { interval: 8 } } }), 'InvalidEtagError');
  });
  await check('Registry.removeModule with the current etag, then getModule is 404', async () => {
    const { responseBody: current } = await registry.getModule(id, 'm1');
    await removeModule(registry, current);
    const err = await rejects(registry.getModule(id, 'm1'), 'Error');
    assert.equal(err.response.statusCode, 404);
  });

  await check('Registry.getTwin and updateTwin with the etag; stale etag is InvalidEtagError', async () => {
    const { responseBody: tw } = await registry.getTwin(id);
    assert.equal(tw.deviceId, id);
    const { responseBody: updated } = await registry.updateTwin(id, { tags: { floor: 3 } }, tw.etag);
    assert.equal(updated.tags.floor, 3);
    await rejects(registry.updateTwin(id, { tags: { floor: 4 } }, tw.etag), 'InvalidEtagError');
  });

  await check('Registry.createQuery pages with continuation tokens', async () => {
    for (let i = 0; i < 4; i++) {
      await registry.create({ deviceId: `${id}-q${i}` });
    }
    const query = registry.createQuery(`SELECT * FROM devices WHERE STARTSWITH(deviceId, '${id}-q')`, 2);
    const seen = [];
    let pages = 0;
    do {
      const { result } = await query.nextAsTwin();
      pages++;
      seen.push(...result.map((t) => t.deviceId));
      assert.ok(pages <= 3, 'more pages than expected');
    } while (query.hasMoreResults);
    assert.equal(pages, 2);
    assert.deepEqual(seen, [0, 1, 2, 3].map((i) => `${id}-q${i}`));
  });
  await check('Registry.getRegistryStatistics counts devices', async () => {
    const { responseBody } = await registry.getRegistryStatistics();
    assert.equal(responseBody.totalDeviceCount, 5);
    assert.equal(responseBody.disabledDeviceCount, 1);
    assert.equal(responseBody.enabledDeviceCount, 4);
  });
  await check('Registry.delete removes the device; again is DeviceNotFoundError', async () => {
    await registry.delete(id);
    await rejects(registry.delete(id), 'DeviceNotFoundError');
    for (let i = 0; i < 4; i++) {
      await registry.delete(`${id}-q${i}`);
    }
  });
  await check('Registry with a wrong key is UnauthorizedError', async () => {
    const bad = Registry.fromConnectionString(cs.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=' + Buffer.alloc(32, 7).toString('base64')));
    await rejects(bad.get(id), 'UnauthorizedError');
  });
}

async function protocolLayerChecks() {
  // The SDK's own credentials class signs each request; baseUri is what a
  // caller points at its hub (DigitalTwinClient does the same).
  const pl = new IotHubGatewayServiceAPIs(new IoTHubTokenCredentials(cs), { baseUri: `https://${hostName}` });
  const id = `node-pl-${run}`;
  let device;

  await check('pl devices.createOrUpdateIdentity creates a device', async () => {
    device = await pl.devices.createOrUpdateIdentity(id, { deviceId: id });
    assert.equal(device.deviceId, id);
    assert.ok(device.etag, 'no etag');
  });
  await check('pl devices.createOrUpdateIdentity without If-Match on a taken id is 409 DeviceAlreadyExists', async () => {
    await rejects(pl.devices.createOrUpdateIdentity(id, { deviceId: id }), { status: 409, code: 'DeviceAlreadyExists' });
  });
  await check('pl devices.createOrUpdateIdentity with If-Match updates; a stale etag is 412 PreconditionFailed', async () => {
    const updated = await pl.devices.createOrUpdateIdentity(id,
      { deviceId: id, status: 'disabled', statusReason: 'pl', authentication: device.authentication },
      { ifMatch: quote(device.etag) });
    assert.equal(updated.status, 'disabled');
    assert.notEqual(updated.etag, device.etag);
    await rejects(pl.devices.createOrUpdateIdentity(id, { deviceId: id, status: 'enabled' }, { ifMatch: quote(device.etag) }),
      { status: 412, code: 'PreconditionFailed' });
    device = updated;
  });
  await check('pl devices.getIdentity of a missing device is 404 DeviceNotFound', async () => {
    await rejects(pl.devices.getIdentity(`${id}-missing`), { status: 404, code: 'DeviceNotFound' });
  });

  let mod;
  await check('pl modules.createOrUpdateIdentity, getIdentity, getModulesOnDevice', async () => {
    mod = await pl.modules.createOrUpdateIdentity(id, 'm1', { deviceId: id, moduleId: 'm1' });
    assert.ok(mod.etag, 'no etag');
    const got = await pl.modules.getIdentity(id, 'm1');
    assert.equal(got.etag, mod.etag);
    const list = await pl.modules.getModulesOnDevice(id);
    assert.deepEqual(list.map((m) => m.moduleId), ['m1']);
  });
  await check('pl modules.createOrUpdateIdentity with If-Match; stale etag is 412', async () => {
    const updated = await pl.modules.createOrUpdateIdentity(id, 'm1',
      { deviceId: id, moduleId: 'm1', managedBy: 'pl', authentication: mod.authentication }, { ifMatch: quote(mod.etag) });
    assert.equal(updated.managedBy, 'pl');
    await rejects(pl.modules.createOrUpdateIdentity(id, 'm1', { deviceId: id, moduleId: 'm1' }, { ifMatch: quote(mod.etag) }),
      { status: 412, code: 'PreconditionFailed' });
    mod = updated;
  });

  await check('pl modules.getTwin, updateTwin (PATCH) and replaceTwin (PUT) with etags', async () => {
    const tw = await pl.modules.getTwin(id, 'm1');
    assert.ok(tw.etag, 'no etag');
    const patched = await pl.modules.updateTwin(id, 'm1', { tags: { a: 1 }, properties: { desired: { x: 1, y: 2 } } }, { ifMatch: quote(tw.etag) });
    assert.equal(patched.properties.desired.x, 1);
    assert.notEqual(patched.etag, tw.etag);
    await rejects(pl.modules.updateTwin(id, 'm1', { tags: { a: 2 } }, { ifMatch: quote(tw.etag) }), { status: 412, code: 'PreconditionFailed' });
    const replaced = await pl.modules.replaceTwin(id, 'm1', { tags: { b: 1 }, properties: { desired: { z: 3 } } }, { ifMatch: quote(patched.etag) });
    assert.deepEqual(replaced.tags, { b: 1 });
    assert.equal(replaced.properties.desired.z, 3);
    assert.equal(replaced.properties.desired.x, undefined, 'replace kept a desired property it should have dropped');
    await rejects(pl.modules.replaceTwin(id, 'm1', { tags: {} }, { ifMatch: quote(patched.etag) }), { status: 412, code: 'PreconditionFailed' });
  });
  await check('pl devices.getTwin, updateTwin and replaceTwin with etags', async () => {
    const tw = await pl.devices.getTwin(id);
    const patched = await pl.devices.updateTwin(id, { tags: { a: 1 } }, { ifMatch: quote(tw.etag) });
    assert.equal(patched.tags.a, 1);
    const replaced = await pl.devices.replaceTwin(id, { tags: { c: 'd' } }, { ifMatch: quote(patched.etag) });
    assert.deepEqual(replaced.tags, { c: 'd' });
    await rejects(pl.devices.updateTwin(id, { tags: { a: 2 } }, { ifMatch: quote(tw.etag) }), { status: 412, code: 'PreconditionFailed' });
  });
  await check('pl query.getTwins pages with x-ms-continuation', async () => {
    for (let i = 0; i < 3; i++) {
      await pl.devices.createOrUpdateIdentity(`${id}-q${i}`, { deviceId: `${id}-q${i}` });
    }
    const seen = [];
    let token;
    let pages = 0;
    do {
      const page = await pl.query.getTwins({ query: `SELECT * FROM devices WHERE STARTSWITH(deviceId, '${id}-q')` },
        { xMsMaxItemCount: '2', xMsContinuation: token });
      pages++;
      seen.push(...page.map((t) => t.deviceId));
      token = page._response.parsedHeaders.xMsContinuation;
      assert.ok(pages <= 2, 'more pages than expected');
    } while (token);
    assert.deepEqual(seen, [0, 1, 2].map((i) => `${id}-q${i}`));
  });
  await check('pl statistics.getDeviceStatistics', async () => {
    const stats = await pl.statistics.getDeviceStatistics();
    assert.equal(stats.totalDeviceCount, 4);
    assert.equal(stats.disabledDeviceCount, 1);
  });
  await check('pl deleteIdentity with a stale etag is 412; with the current etag works', async () => {
    await rejects(pl.modules.deleteIdentity(id, 'm1', { ifMatch: quote('stale') }), { status: 412, code: 'PreconditionFailed' });
    await pl.modules.deleteIdentity(id, 'm1', { ifMatch: quote(mod.etag) });
    await rejects(pl.modules.getIdentity(id, 'm1'), { status: 404, code: 'ModuleNotFound' });
    await pl.devices.deleteIdentity(id, { ifMatch: quote(device.etag) });
    await rejects(pl.devices.deleteIdentity(id, { ifMatch: '*' }), { status: 404, code: 'DeviceNotFound' });
    for (let i = 0; i < 3; i++) {
      await pl.devices.deleteIdentity(`${id}-q${i}`);
    }
  });
}

(async () => {
  await registryChecks();
  await protocolLayerChecks();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((err) => {
  console.log(`FAIL unexpected: ${err && err.stack}`);
  process.exit(1);
});
