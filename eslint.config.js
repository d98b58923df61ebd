// ESLint flat config: @eslint/js recommended + typescript-eslint recommended (not type-checked,
// so `npm run lint` stays fast). Formatting is prettier's job (`prettier --check .`).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Node globals for the few plain .js/.mjs files (TypeScript files get them from @types/node). */
const nodeGlobals = Object.fromEntries(
  ['process', 'console', 'Buffer', 'URL', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'].map((g) => [
    g,
    'readonly',
  ]),
);

export default defineConfig(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/coverage/**',
      '**/.tap/**',
      'data/**',
      'certs/**',
      'bench/results/**',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: nodeGlobals },
  },
  {
    // The browser demo page's script (subscriber --demo).
    files: ['subscriber/demo/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(['document', 'location', 'URL', 'URLSearchParams'].map((g) => [g, 'readonly'])),
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      // `_`-prefixed names mark deliberately unused parameters (handlers with fixed signatures).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
);
