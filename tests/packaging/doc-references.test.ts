// The repository carries its own protocol notes: every citation of apns-protocol.md must name
// docs/apns-protocol.md (not a file outside the repository) and a section that exists there.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './imports.ts';

const notes = 'docs/apns-protocol.md';
const skipDirs = new Set(['node_modules', 'dist', '.git', '.tools', 'coverage', 'results', '.pushfleet']);
const textExtensions = /\.(ts|mts|mjs|cjs|js|md|ya?ml|json|sh|py|go|txt)$/;

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (skipDirs.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files(path, out);
    else if (textExtensions.test(name) || name === 'Dockerfile') out.push(path);
  }
  return out;
}

/** Section ids the notes define: `A`…`H` from `## A.` headings, `A.1`… from `### A.1` headings. */
export function sectionsOf(markdown: string): Set<string> {
  const ids = new Set<string>();
  for (const match of markdown.matchAll(/^#{2,3} ([A-Z](?:\.\d+)?)[. ]/gm)) ids.add(match[1]!);
  return ids;
}

/** Section ids one citation names: `§A.4`, `§D.1–§D.3`, `§A.8, §A.9`, or the older bare `A.9`/`E`. */
export function citedSections(afterCitation: string): string[] {
  const id = String.raw`§?[A-Z](?:\.\d+)?`;
  const list = new RegExp(String.raw`^[\s\`]*\(?\s*(${id}(?:\s*(?:–|-|,|and)\s*${id})*)(?!\w)(?!\.\d)`);
  const cited = afterCitation.match(list);
  return cited ? [...cited[1]!.matchAll(/[A-Z](?:\.\d+)?/g)].map((m) => m[0]) : [];
}

interface Citation {
  where: string;
  prefix: string;
  sections: string[];
}

function citations(): Citation[] {
  const out: Citation[] = [];
  for (const file of files(repoRoot)) {
    const rel = relative(repoRoot, file);
    if (rel === notes || rel.startsWith('tests/packaging/')) continue;
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/([\w./-]*)apns-protocol\.md/g)) {
      const line = text.slice(0, match.index).split('\n').length;
      const after = text.slice(match.index + match[0].length, match.index + match[0].length + 40);
      out.push({
        where: `${rel}:${line}`,
        prefix: match[1]!,
        sections: citedSections(after.replace(/\n\s*(\*|\/\/|#)?/g, ' ')),
      });
    }
  }
  return out;
}

test('the protocol notes define every section A.1 … H.4 that the code and docs cite', () => {
  const defined = sectionsOf(readFileSync(join(repoRoot, notes), 'utf8'));
  for (const id of ['A', 'A.1', 'A.9', 'A.13', 'B.3', 'C.4', 'D.5', 'E', 'F.4', 'G.2', 'H.4']) {
    assert.ok(defined.has(id), `${notes} lacks section ${id}`);
  }
  const found = citations();
  assert.ok(found.length > 10, 'the code cites the notes');
  const missing = found.flatMap((c) =>
    c.sections.filter((s) => !defined.has(s)).map((s) => `${c.where} cites §${s}`),
  );
  assert.deepEqual(missing, []);
});

test('citations name the file in this repository, never one outside it', () => {
  const outside = citations()
    .filter((c) => !['', './', 'docs/', '../docs/', '../../docs/'].includes(c.prefix))
    .map((c) => `${c.where}: ${c.prefix}apns-protocol.md`);
  assert.deepEqual(outside, []);
});

test('the citation parser reads the forms in use (and so can fail)', () => {
  assert.deepEqual(citedSections(' §A.4).'), ['A.4']);
  assert.deepEqual(citedSections(' §D.1–§D.3): command 0'), ['D.1', 'D.3']);
  assert.deepEqual(citedSections(' §A.8, §A.9).'), ['A.8', 'A.9']);
  assert.deepEqual(citedSections(' A.9). One table'), ['A.9']);
  assert.deepEqual(citedSections(' E) to poll'), ['E']);
  assert.deepEqual(citedSections(' §A.4.'), ['A.4']);
  assert.deepEqual(citedSections('`](../../docs/apns-protocol.md); `§X.n`'), []);
  assert.deepEqual(citedSections('); `§X.n` below'), []);
  const defined = sectionsOf('## A. HTTP/2\n### A.1 Endpoints\n### A.13 Certificates\n## E. Feedback\n');
  assert.deepEqual([...defined].sort(), ['A', 'A.1', 'A.13', 'E']);
});
