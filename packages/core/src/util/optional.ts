/**
 * Optional peer dependencies, loaded only by the feature that needs them, so a
 * production install of @lightbus/core stays small: tsx (running a TypeScript
 * bus module) and json-schema-to-typescript (`lightbus codegen`).
 */
import { MissingPackageError } from '../errors';

/** The package a specifier imports from: `tsx` of 'tsx/esm/api', `@lightbus/ui` of '@lightbus/ui/x'. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function isNotFound(error: unknown, specifier: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // Only when the package itself is missing, not a module it imports in turn.
  const pkg = packageOf(specifier);
  return (
    typeof message === 'string' &&
    (message.includes(`'${specifier}'`) || message.includes(`'${pkg}'`) || message.includes(`"${pkg}"`))
  );
}

/**
 * `import(specifier)` of an optional peer. When the package is not installed,
 * throws MissingPackageError saying what needs it and how to install it.
 */
export async function importOptional<T>(specifier: string, neededFor: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (error) {
    if (!isNotFound(error, specifier)) throw error;
    const pkg = packageOf(specifier);
    throw new MissingPackageError(
      `${neededFor} needs the package '${pkg}', which is not installed. ` +
        `Install it in your project: npm install --save-dev ${pkg}`,
      { cause: error },
    );
  }
}

/** A named export of a CommonJS or ES module loaded with import(), wherever interop put it. */
export function exportOf<F>(loaded: unknown, name: string): F | undefined {
  const module = loaded as Record<string, unknown> & { default?: Record<string, unknown> };
  return (module[name] ?? module.default?.[name]) as F | undefined;
}
