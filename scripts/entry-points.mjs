// Lists the names each entry of @lightbus/core exports (package.json "exports"), read from the
// TypeScript sources, and writes docs/reference/entry-points.md from them.
//   node scripts/entry-points.mjs          write the page
//   node scripts/entry-points.mjs --check  fail if the page is out of date (npm run lint)
//   node scripts/entry-points.mjs --json   print { entry: [names] }
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const ENTRIES = [
  {
    entry: '@lightbus/core',
    file: 'packages/core/src/index.ts',
    for: 'applications: declare APIs, create a bus, call, fire, listen, run workers, catch errors',
  },
  {
    entry: '@lightbus/core/transport',
    file: 'packages/core/src/transport/index.ts',
    for: 'transport authors (and @lightbus/testing): role interfaces, registry, kit, memory transport, wire messages, helpers',
  },
  {
    entry: '@lightbus/core/errors',
    file: 'packages/core/src/errors/index.ts',
    for: 'every error class Lightbus raises, for `instanceof` (the application entry has the common ones); codes in errors.md',
  },
];
const PAGE = 'docs/reference/entry-points.md';

function kindOf(symbol, checker) {
  const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  const f = target.flags;
  if (f & ts.SymbolFlags.Class) return 'class';
  if (f & ts.SymbolFlags.Function) return 'function';
  if (f & (ts.SymbolFlags.Variable | ts.SymbolFlags.Property)) return 'value';
  if (f & ts.SymbolFlags.Interface) return 'interface';
  if (f & ts.SymbolFlags.TypeAlias) return 'type';
  return 'other';
}

export function entryNames() {
  const files = ENTRIES.map((e) => path.join(root, e.file));
  const config = ts.readConfigFile(path.join(root, 'tsconfig.base.json'), ts.sys.readFile).config;
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
  const program = ts.createProgram(files, { ...options, noEmit: true, composite: false, declaration: false });
  const checker = program.getTypeChecker();
  return ENTRIES.map((e, i) => {
    const source = program.getSourceFile(files[i]);
    const moduleSymbol = checker.getSymbolAtLocation(source);
    const names = checker
      .getExportsOfModule(moduleSymbol)
      .map((s) => ({ name: s.getName(), kind: kindOf(s, checker) }))
      .sort((a, b) => a.name.localeCompare(b.name));
    return { ...e, names };
  });
}

function page(entries) {
  const lines = [
    '# Entry points of @lightbus/core',
    '',
    '`@lightbus/core` has three entries, declared in its package.json `exports`; nothing else',
    'is importable (internals such as `InFlight` or `setCommandLineOverrides` are not part',
    'of any entry, except where a transport needs them: then through `/transport`).',
    '',
    '- `@lightbus/core`: what an application writes with.',
    '- `@lightbus/core/transport`: what a transport package (or a test of one) needs.',
    '  A transport imports only these two entries.',
    '- `@lightbus/core/errors`: every error class, the rarer ones too (`UnknownProcedureError`,',
    '  `TransportCapabilityError`, ...), for `instanceof`.',
    '',
    'This page is generated from the sources by `node scripts/entry-points.mjs`;',
    '`npm run lint` fails when it is out of date.',
    '',
  ];
  for (const e of entries) {
    lines.push(`## \`${e.entry}\` (${e.names.length} names)`, '', `For ${e.for}. Source: \`${e.file}\`.`, '');
    lines.push('| Name | Kind |', '| --- | --- |');
    for (const n of e.names) lines.push(`| \`${n.name}\` | ${n.kind} |`);
    lines.push('');
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const entries = entryNames();
  const target = path.join(root, PAGE);
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(Object.fromEntries(entries.map((e) => [e.entry, e.names.map((n) => n.name)])), null, 2));
  } else if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {}
    if (current !== page(entries)) {
      console.error(`${PAGE} is out of date: run node scripts/entry-points.mjs`);
      process.exit(1);
    }
    console.log(`${PAGE}: ${entries.map((e) => `${e.entry} ${e.names.length} names`).join(', ')}`);
  } else {
    writeFileSync(target, page(entries));
    console.log(`wrote ${PAGE}: ${entries.map((e) => `${e.entry} ${e.names.length} names`).join(', ')}`);
  }
}
