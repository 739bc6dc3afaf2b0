/**
 * A deliberately small template language for templates/*.tmpl, so the Dockerfile's shape is readable in
 * one file while the code only supplies blocks:
 *   {{name}}                 the value (multi-line values keep the placeholder's indentation)
 *   {{#if name}} … {{/if}}   kept when the value is non-empty (may span lines or sit inside one line)
 * A line that held only placeholders and renders empty is dropped; runs of blank lines collapse to one.
 * Unknown names are an internal error: a template must never silently render a hole.
 */
import { internalError } from '../core/errors.js';

export type TemplateValues = Record<string, string | boolean | undefined>;

export function renderTemplate(template: string, values: TemplateValues, templateName = 'template'): string {
  const lookup = (name: string): string | boolean => {
    if (!(name in values)) throw internalError('template.unknown', `${templateName}: no value for {{${name}}}`);
    return values[name] ?? '';
  };
  let text = template;
  // Conditional sections, innermost first.
  const section = /\{\{#if ([a-z_]+)\}\}((?:(?!\{\{#if )[\s\S])*?)\{\{\/if\}\}/;
  for (let m = section.exec(text); m; m = section.exec(text)) {
    const keep = Boolean(lookup(m[1]!));
    // \u0000 marks where a section tag stood: a line left holding only markers disappears.
    text = text.slice(0, m.index) + (keep ? `\u0000${m[2]!}\u0000` : '\u0000') + text.slice(m.index + m[0].length);
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const hadPlaceholder = /\{\{[a-z_]+\}\}|\u0000/.test(line);
    const rendered = line
      .replace(/\u0000/g, '')
      .replace(/^([ \t]*)\{\{([a-z_]+)\}\}$/, (_m, indent: string, name: string) => indentBlock(String(lookup(name)), indent))
      .replace(/\{\{([a-z_]+)\}\}/g, (_m, name: string) => String(lookup(name)));
    if (hadPlaceholder && rendered.trim() === '') continue;
    out.push(rendered);
  }
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

function indentBlock(value: string, indent: string): string {
  return value
    .split('\n')
    .map((l) => (l ? indent + l : l))
    .join('\n');
}
