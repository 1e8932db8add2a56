/** JSON Schema, read for people: parameter tables and forms generated from an object schema. */
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { useState } from 'preact/hooks';
import type { Json, Schema } from './http';

function properties(schema: Schema): [string, Schema][] {
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  return Object.entries(props);
}

function requiredOf(schema: Schema): Set<string> {
  return new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
}

/** A short type name: `integer`, `string (email)`, `array of string`, `A | B`, `any`. */
export function typeName(schema: Schema | undefined): string {
  if (!schema || Object.keys(schema).length === 0) return 'any';
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Schema[]).map(typeName).join(' | ');
  if (Array.isArray(schema.oneOf)) return (schema.oneOf as Schema[]).map(typeName).join(' | ');
  if (Array.isArray(schema.enum)) return (schema.enum as unknown[]).map((v) => JSON.stringify(v)).join(' | ');
  if ('const' in schema) return JSON.stringify(schema.const);
  const type = Array.isArray(schema.type) ? (schema.type as string[]).join(' | ') : String(schema.type ?? 'any');
  if (type === 'array' && schema.items) return `array of ${typeName(schema.items as Schema)}`;
  if (typeof schema.format === 'string') return `${type} (${schema.format})`;
  return type;
}

export function ParameterTable({ schema }: { schema: Schema }): VNode {
  const rows = properties(schema);
  if (rows.length === 0) return html`<p class="muted">No parameters.</p>`;
  const required = requiredOf(schema);
  return html`<table>
    <thead>
      <tr>
        <th>Parameter</th>
        <th>Type</th>
        <th>Required</th>
        <th>Description</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        ([name, s]) =>
          html`<tr>
            <td class="mono">${name}</td>
            <td class="mono">${typeName(s)}</td>
            <td>${required.has(name) ? 'yes' : 'no'}</td>
            <td>
              ${String(s.description ?? '')}${'default' in s ? html` <span class="muted">default ${JSON.stringify(s.default)}</span>` : ''}
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

type Kind = 'text' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';

function kindOf(schema: Schema): Kind {
  if (Array.isArray(schema.enum)) return 'enum';
  switch (schema.type) {
    case 'string':
      return 'text';
    case 'number':
      return 'number';
    case 'integer':
      return 'integer';
    case 'boolean':
      return 'boolean';
    default:
      return 'json';
  }
}

/** The form's values (strings as typed) as parameters; what cannot be read is reported by name. */
function collect(
  schema: Schema,
  raw: Record<string, string | boolean>,
): { params: Record<string, Json>; problems: string[] } {
  const params: Record<string, Json> = {};
  const problems: string[] = [];
  for (const [name, s] of properties(schema)) {
    const value = raw[name];
    const kind = kindOf(s);
    if (kind === 'boolean') {
      if (value !== undefined) params[name] = value === true;
      continue;
    }
    if (value === undefined || value === '') continue;
    const text = String(value);
    if (kind === 'text') params[name] = text;
    else if (kind === 'number' || kind === 'integer') {
      const n = Number(text);
      if (Number.isNaN(n)) problems.push(`${name}: not a number`);
      else params[name] = n;
    } else {
      try {
        params[name] = JSON.parse(text) as Json;
      } catch {
        if (kind === 'enum') params[name] = text;
        else problems.push(`${name}: not valid JSON`);
      }
    }
  }
  return { params, problems };
}

/** A form for an object schema: one input per property; submit gets the parameters. */
export function SchemaForm(props: {
  schema: Schema;
  id: string;
  action: string;
  onSubmit: (params: Record<string, Json>) => Promise<void>;
}): VNode {
  const [raw, setRaw] = useState<Record<string, string | boolean>>({});
  const [problems, setProblems] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const required = requiredOf(props.schema);
  const set = (name: string, value: string | boolean): void => setRaw({ ...raw, [name]: value });
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const { params, problems } = collect(props.schema, raw);
    setProblems(problems);
    if (problems.length) return;
    setBusy(true);
    try {
      await props.onSubmit(params);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="schema" data-testid=${`form-${props.id}`} onSubmit=${submit}>
    ${properties(props.schema).map(([name, s]) => {
      const kind = kindOf(s);
      const label = html`<span class="mono"
        >${name}${required.has(name) ? ' *' : ''} <span class="muted">${typeName(s)}</span></span
      >`;
      const common = { name, 'data-param': name };
      if (kind === 'boolean')
        return html`<label
          >${label}<input
            type="checkbox"
            ...${common}
            onChange=${(e: Event) => set(name, (e.target as HTMLInputElement).checked)}
        /></label>`;
      if (kind === 'enum')
        return html`<label
          >${label}<select ...${common} onChange=${(e: Event) => set(name, (e.target as HTMLSelectElement).value)}>
            <option value=""></option>
            ${(s.enum as Json[]).map((v) => html`<option value=${JSON.stringify(v)}>${JSON.stringify(v)}</option>`)}
          </select></label
        >`;
      if (kind === 'json')
        return html`<label
          >${label}<textarea
            ...${common}
            placeholder="JSON"
            onInput=${(e: Event) => set(name, (e.target as HTMLTextAreaElement).value)}
          ></textarea>
        </label>`;
      return html`<label
        >${label}<input
          type=${kind === 'text' ? 'text' : 'number'}
          step=${kind === 'number' ? 'any' : '1'}
          ...${common}
          onInput=${(e: Event) => set(name, (e.target as HTMLInputElement).value)}
      /></label>`;
    })}
    ${problems.map((p) => html`<div class="bad">${p}</div>`)}
    <div class="row">
      <button type="submit" disabled=${busy} data-testid=${`submit-${props.id}`}>${busy ? '…' : props.action}</button>
    </div>
  </form>`;
}
