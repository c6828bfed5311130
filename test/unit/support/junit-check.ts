/**
 * Checks of the JUnit XML the gate writes, independent of the code that writes it:
 * - a strict parser of the XML subset JUnit files use (declaration, elements, attributes,
 *   text, the five predefined entities): anything else (a stray < or &, an unknown entity,
 *   a tag closed out of order, text outside the root) is an error, as in a real XML parser;
 * - xmllint --noout (libxml2-utils, installed by scripts/setup.sh) when it is on PATH.
 */
import { execFileSync } from 'node:child_process';

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string, where: string): string {
  if (/[<]/.test(s)) throw new Error(`raw < in ${where}`);
  return s.replace(/&([^;]*);|&/g, (m, name: string | undefined) => {
    if (name === undefined || !(name in ENTITIES)) throw new Error(`bad entity ${JSON.stringify(m)} in ${where}`);
    return ENTITIES[name] as string;
  });
}

/** XML 1.0 Char production: no C0 controls but TAB, LF, CR; no U+FFFE/U+FFFF; no lone surrogates. */
const NOT_XML_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function parseXmlSubset(xml: string): XmlElement {
  if (NOT_XML_CHAR.test(xml)) throw new Error('a character XML 1.0 cannot carry');
  const decl = /^<\?xml version="1\.0" encoding="UTF-8"\?>\n/.exec(xml);
  if (!decl) throw new Error('no XML declaration');
  let i = decl[0].length;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const tag = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"]*")*)\s*(\/?)>/y;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (text.trim() !== '') {
      const top = stack.at(-1);
      if (!top) throw new Error(`text outside the root: ${JSON.stringify(text.slice(0, 40))}`);
      top.text += decode(text, `<${top.name}> text`);
    }
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    if (!m) throw new Error(`malformed tag at ${lt}: ${JSON.stringify(xml.slice(lt, lt + 40))}`);
    const [all, closing, name, attrText, selfClosing] = m as unknown as [string, string, string, string, string];
    i = lt + all.length;
    if (closing) {
      if (selfClosing || attrText) throw new Error(`bad closing tag ${all}`);
      const open = stack.pop();
      if (open?.name !== name) throw new Error(`</${name}> closes <${open?.name}>`);
      if (stack.length === 0) root = open;
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText.matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) {
      const key = a[1] as string;
      if (key in attrs) throw new Error(`duplicate attribute ${key}`);
      attrs[key] = decode(a[2] as string, `${name}@${key}`);
    }
    const el: XmlElement = { name, attrs, children: [], text: '' };
    const parent = stack.at(-1);
    if (parent) parent.children.push(el);
    else if (root) throw new Error('a second root element');
    if (selfClosing) {
      if (!parent) root = el;
    } else stack.push(el);
  }
  if (stack.length) throw new Error(`unclosed <${stack.at(-1)?.name}>`);
  if (!root) throw new Error('no root element');
  return root;
}

export interface JunitCase {
  name: string;
  classname: string;
  failure?: { message: string; text: string };
}

/** The test cases of a JUnit file, with the counts each level declares checked against them. */
export function readJunit(xml: string): { tests: number; failures: number; cases: JunitCase[] } {
  const root = parseXmlSubset(xml);
  if (root.name !== 'testsuites') throw new Error(`root is <${root.name}>`);
  const suites = root.children.filter((c) => c.name === 'testsuite');
  const cases: JunitCase[] = [];
  for (const s of suites) {
    const own = s.children.filter((c) => c.name === 'testcase');
    const failed = own.filter((c) => c.children.some((f) => f.name === 'failure')).length;
    if (Number(s.attrs.tests) !== own.length || Number(s.attrs.failures) !== failed) throw new Error(`testsuite counts ${s.attrs.tests}/${s.attrs.failures} but has ${own.length}/${failed}`);
    for (const c of own) {
      const f = c.children.find((x) => x.name === 'failure');
      cases.push({ name: c.attrs.name ?? '', classname: c.attrs.classname ?? '', ...(f ? { failure: { message: f.attrs.message ?? '', text: f.text } } : {}) });
    }
  }
  const failures = cases.filter((c) => c.failure).length;
  if (Number(root.attrs.tests) !== cases.length || Number(root.attrs.failures) !== failures) throw new Error('testsuites counts disagree with the cases');
  return { tests: cases.length, failures, cases };
}

export function hasXmllint(): boolean {
  try {
    execFileSync('xmllint', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Throws with xmllint's message when the file is not well-formed XML. */
export function xmllint(path: string): void {
  execFileSync('xmllint', ['--noout', path], { stdio: ['ignore', 'ignore', 'pipe'] });
}
