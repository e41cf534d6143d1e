// The catalog is generated from the installed instrumentations (scripts/gen-catalog.js, `npm run gen:catalog`):
// this test only checks that the committed rows are what the script produces now; it never rewrites them.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { CATALOG } from '../register/discovery/catalog';

interface Generated {
  rows: unknown[];
  auto: string;
  next: string | null;
}

const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'gen-catalog.js');

test('register/discovery/catalog.ts is what scripts/gen-catalog.js makes of the installed instrumentations', () => {
  const { buildCatalog } = require(SCRIPT) as { buildCatalog(): Generated };
  const generated = buildCatalog();
  const committed = JSON.parse(JSON.stringify(CATALOG)) as unknown[];
  const byName = (rows: unknown[]) => new Map(rows.map((r) => [(r as { name: string }).name, r]));
  const want = byName(generated.rows);
  const have = byName(committed);
  const hint = '\n  hint: run `npm run gen:catalog` and commit register/discovery/catalog.ts';
  assert.deepEqual([...have.keys()].sort(), [...want.keys()].sort(), `instrumentations differ${hint}`);
  for (const [name, row] of want) {
    assert.deepEqual(have.get(name), row, `the ${name} row differs from the installed package${hint}`);
  }
  // Every row records the version it was generated from: the one the ranges are gated on.
  for (const row of CATALOG) assert.match(row.version, /^\d+\.\d+\.\d+/, row.name);
});

test('bootstrap installs the line that runs on the Node in use: 0.2xx below 22.15, 0.30x from it', () => {
  const { pinsFor } = require('../src/bootstrap/bootstrap') as typeof import('../src/bootstrap/bootstrap');
  const express = CATALOG.find((e) => e.name === 'express');
  assert.ok(express?.next, 'the express row has a 0.30x range');
  assert.equal(pinsFor('20.20.2').express, express.version);
  assert.equal(pinsFor('22.14.0').express, express.version);
  assert.equal(pinsFor('22.15.0').express, express.next);
  assert.equal(pinsFor('24.1.0').express, express.next);
});
