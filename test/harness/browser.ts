import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import type { TestContext } from './test-context.ts';

const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless Chromium (Debian's, driven by playwright-core), closed in teardown. A machine without
 * it fails the test loudly: the browser tests are part of the suite, never skipped.
 */
export async function launchChromium(t: TestContext): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser tests need Debian's chromium (apt-get install chromium; scripts/setup.sh does it)`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  return browser;
}
