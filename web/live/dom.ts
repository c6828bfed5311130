/**
 * The one way the page makes elements. Everything it shows is built here with textContent, never
 * innerHTML: VM names, the host, reasons and hints come from the stream (or a recording someone
 * sent) and are never parsed as HTML. safeText also spells out bidi overrides and controls, which
 * would make a name read as another one (src/views/safe-text.ts; the view model already applies
 * it, this is the last line for anything read from the model directly).
 */
import { safeText } from '../../src/views/safe-text.js';

export const byId = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = safeText(text);
  if (className) e.className = className;
  return e;
}

/**
 * A number shown formatted, carrying its raw value in data-value (tests and scripts compare
 * exact values, not formatted text) and its meaning in data-col.
 */
export function num<K extends keyof HTMLElementTagNameMap>(tag: K, col: string, value: number, text: string, className = 'n'): HTMLElementTagNameMap[K] {
  const e = el(tag, text, className);
  e.setAttribute('data-col', col);
  e.setAttribute('data-value', String(value));
  return e;
}

/** A horizontal bar: label, fill as a share of `max`, count (histograms, kinds). */
export function bar(label: string, n: number, max: number, col: string): HTMLDivElement {
  const fill = el('span', undefined, 'fill');
  fill.style.width = `${Math.round((100 * n) / Math.max(1, max))}%`;
  const row = el('div', undefined, 'bar');
  row.append(el('span', label, 'lab'), fill, num('span', col, n, String(n), 'cnt'));
  return row;
}
