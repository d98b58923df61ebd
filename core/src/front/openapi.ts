/**
 * The OpenAPI 3.1 document of every service's HTTP endpoints. It is kept in the repository at
 * docs/openapi.json (tests validate the answers they receive against it) and served from
 * there, read once when a service is built: the checkout and the images both hold docs/.
 */
import { readFileSync } from 'node:fs';

const DOC_URL = new URL('../../../../docs/openapi.json', import.meta.url);

let cached: string | undefined;

/** The document's text, or undefined when this installation has no docs/openapi.json. */
export function openapiDocument(): string | undefined {
  if (cached !== undefined) return cached;
  try {
    cached = readFileSync(DOC_URL, 'utf8');
  } catch {
    return undefined;
  }
  return cached;
}
