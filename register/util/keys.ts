// Setting names in their three spellings: camelCase (config-file keys, `Settings` fields), kebab-case (flags)
// and the OTEL_* variable. Flags and file keys are derived here and nowhere else.

/** `exporterOtlpEndpoint` → `exporter-otlp-endpoint`. */
export function kebabCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `exporter-otlp-endpoint` → `exporterOtlpEndpoint`. */
export function camelCase(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
