// `npm run lint` (with tsc, madge and prettier): typescript-eslint over every TypeScript source,
// test, example and bench. Type-aware rules are limited to the promise rules that matter most on a
// bus: a promise nobody awaits loses its error, and an async callback where a sync one is expected
// hides it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const rules = {
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
  '@typescript-eslint/no-unused-vars': [
    'error',
    { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
  ],
  '@typescript-eslint/no-explicit-any': 'error',
};

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
      '**/*.test-d.ts',
      'examples/*/generated/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Packages, tests and benchmarks: the repository's test tsconfig knows them all.
    files: ['packages/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    ignores: ['packages/ui/web/**'],
    languageOptions: { parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname } },
    rules,
  },
  {
    // The UI's front end (browser code, built by Vite): its own tsconfig with the DOM.
    files: ['packages/ui/web/**/*.ts'],
    languageOptions: {
      parserOptions: { project: ['./packages/ui/web/tsconfig.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules,
  },
  {
    // Tests and benchmarks load the JavaScript launchers of tools/ (no types) with require().
    files: ['bench/**/*.ts', 'packages/*/test/**/*.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Examples: each has its own tsconfig.json, as a user's project would.
    files: ['examples/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules,
  },
);
