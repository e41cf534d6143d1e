// The settings table types the settings: a row's kind decides its field's type. The rows below must not
// compile (tsc fails on an unused @ts-expect-error, so this file stops building if one of them starts to);
// the tests check what the typed rows do at run time.
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { flag, int, names, oneOf, pairs, text } from '../register/settings/rows';
import { DEFAULTS, readSettings, type SettingSpec, SPECS } from '../register/settings/table';

const about = { env: 'OTEL_X', group: 'General', description: 'x' } as const;

export const WRONG_ROWS: SettingSpec[] = [
  // @ts-expect-error a whole number for a boolean field
  int({ key: 'sdkDisabled', min: 0, max: 1, ...about }),
  // @ts-expect-error free text for a field that holds one of three values
  text({ key: 'esm', ...about }),
  // @ts-expect-error a value outside the field's own values
  oneOf(['auto', 'on', 'sometimes'], { key: 'esm', ...about }),
  // @ts-expect-error a list for a key=value field
  names({ key: 'resourceAttributes', ...about }),
  // @ts-expect-error key=value pairs for a number field
  pairs({ key: 'bspScheduleDelay', ...about }),
  // @ts-expect-error true/false for a list field
  flag({ key: 'propagators', ...about }),
];

describe('the settings table', () => {
  test('one row per field, each with a variable of its own', () => {
    const keys: string[] = SPECS.map((s) => s.key);
    const envs = SPECS.map((s) => s.env);
    assert.equal(new Set(keys).size, keys.length, 'a field with two rows');
    assert.equal(new Set(envs).size, envs.length, 'a variable with two rows');
    for (const key of Object.keys(DEFAULTS)) assert.ok(keys.includes(key), `${key} has no row`);
  });

  test("each row's parser reads its kind: the variable's text becomes the field's type", () => {
    const s = readSettings({
      OTEL_SDK_DISABLED: 'TRUE',
      OTEL_LOG_LEVEL: 'Debug',
      OTEL_BSP_SCHEDULE_DELAY: ' 50 ',
      OTEL_PROPAGATORS: 'B3, tracecontext',
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http, Express',
      OTEL_RESOURCE_ATTRIBUTES: 'a=1,b=x%20y',
      OTEL_RUN_ESM: 'on',
    });
    assert.equal(s.sdkDisabled, true);
    assert.equal(s.logLevel, 'debug');
    assert.equal(s.bspScheduleDelay, 50);
    assert.deepEqual(s.propagators, ['b3', 'tracecontext']);
    assert.deepEqual(s.enabledInstrumentations, ['http', 'Express']);
    assert.deepEqual(s.resourceAttributes, { a: '1', b: 'x y' });
    assert.equal(s.esm, 'on');
  });

  test('a bad value is reported by its row and the default stays', () => {
    const problems: string[] = [];
    const s = readSettings(
      { OTEL_RUN_ESM: 'sometimes', OTEL_BSP_MAX_QUEUE_SIZE: '0', OTEL_RUN_STRICT: 'yes' },
      (p) => problems.push(p.message),
    );
    assert.equal(s.esm, DEFAULTS.esm);
    assert.equal(s.bspMaxQueueSize, DEFAULTS.bspMaxQueueSize);
    assert.equal(s.strict, false);
    assert.deepEqual(problems, [
      'OTEL_BSP_MAX_QUEUE_SIZE="0" is not valid: expected a number from 1 to 2147483647 — using the default 2048',
      'OTEL_RUN_STRICT="yes" is not valid: expected true or false — using the default false',
      'OTEL_RUN_ESM="sometimes" is not valid: expected one of auto, on, off — using the default auto',
    ]);
  });
});
