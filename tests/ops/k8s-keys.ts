/**
 * Unknown-key check for Kubernetes objects. kubernetes-models' validate() checks types and
 * required fields but lets unknown keys through, so this walks the object against the property
 * lists of the models' own type declarations (.d.ts), following named types through imports.
 * Types it cannot follow (maps, inline objects, IntOrString, Quantity) are not descended into.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const modelsRoot = dirname(require.resolve('kubernetes-models/package.json'));
const apimachineryRoot = join(modelsRoot, '..', '@kubernetes-models', 'apimachinery');

interface Shape {
  props: Map<string, { file?: string; array: boolean }>;
}
const cache = new Map<string, Shape>();

function resolveImport(from: string, spec: string): string | undefined {
  let path: string;
  if (spec.startsWith('.')) path = resolve(dirname(from), spec.replace(/\.js$/, '.d.ts'));
  else if (spec.startsWith('@kubernetes-models/apimachinery/'))
    path = join(apimachineryRoot, `${spec.slice('@kubernetes-models/apimachinery/'.length)}.d.ts`);
  else return undefined;
  if (!path.endsWith('.d.ts')) path += '.d.ts';
  return existsSync(path) ? path : undefined;
}

function shape(file: string): Shape {
  const cached = cache.get(file);
  if (cached) return cached;
  const text = readFileSync(file, 'utf8');
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)"/g)) {
    const target = resolveImport(file, m[2]!);
    if (target) imports.set(m[1]!, target);
  }
  const body = /export interface \w+(?: extends [\w, <>]+)? \{\n([\s\S]*?)\n\}/.exec(text)?.[1] ?? '';
  const props = new Map<string, { file?: string; array: boolean }>();
  // Top-level properties only: four spaces of indent.
  for (const m of body.matchAll(/^ {4}"([^"]+)"\??: (.+?);?$/gm)) {
    const type = m[2]!;
    const named = /^(Array<)?(\w+)>?$/.exec(type.replace(/;$/, ''));
    const target = named ? imports.get(named[2]!) : undefined;
    props.set(m[1]!, { ...(target ? { file: target } : {}), array: Boolean(named?.[1]) });
  }
  const result = { props };
  cache.set(file, result);
  return result;
}

function walk(value: unknown, file: string, path: string, errors: string[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
  const { props } = shape(file);
  for (const [key, child] of Object.entries(value)) {
    const prop = props.get(key);
    if (!prop) {
      errors.push(`${path}.${key}: unknown key`);
      continue;
    }
    if (!prop.file) continue;
    if (prop.array && Array.isArray(child)) {
      for (const [i, item] of child.entries()) walk(item, prop.file, `${path}.${key}[${i}]`, errors);
    } else walk(child, prop.file, `${path}.${key}`, errors);
  }
}

/** Model file of a core kind, e.g. apps/v1 Deployment → kubernetes-models/apps/v1/Deployment.d.ts. */
export function coreModelFile(apiVersion: string, kind: string): string | undefined {
  const file = join(modelsRoot, apiVersion.includes('/') ? apiVersion : `v1`, `${kind}.d.ts`);
  return apiVersion.includes('.') && !apiVersion.includes('k8s.io') && !apiVersion.startsWith('policy')
    ? undefined
    : existsSync(file)
      ? file
      : undefined;
}

/** Unknown keys in a core Kubernetes object (empty when none, or when the kind is not core). */
export function unknownKeys(object: { apiVersion: string; kind: string }): string[] {
  const file = coreModelFile(object.apiVersion, object.kind);
  if (!file) return [];
  const errors: string[] = [];
  walk(object, file, object.kind, errors);
  return errors;
}
