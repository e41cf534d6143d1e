// The package's programmatic surface: the instrumentor protocol types and helper, and `list` for tools.
export type {
  InstrumentOptions,
  Instrumentor,
  InstrumentorField,
  InstrumentorFieldValue,
  InstrumentorLogger,
  OtelInstrumentation,
} from '../register/discovery/protocol';
export { defineInstrumentor } from '../register/discovery/protocol';
export { type ListEntry, listInstrumentors } from './list/list';
