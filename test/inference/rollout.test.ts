// Operating models like a registry, against a real server: aliases and their undo, a sticky canary, a
// shadow off the answer path, and the Open Inference Protocol answering what classify answers. None of
// it reads or writes rows differently on PostgreSQL, so it runs on SQLite only; the prediction log,
// drift, feedback and retention are in predictionLog.test.ts, on both databases.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { preprocess } from '../../src/data/image.js';
import { canaryBucket } from '../../src/inference/aliases.js';
import { type ModelInfo, preprocessSpecOf } from '../../src/inference/registry.js';
import { graphqlClient } from '../helpers.js';
import {
  app,
  artifactA,
  artifactB,
  b64,
  CLASSIFY,
  classify,
  ensembleId,
  image,
  imageRoot,
  LIMITS,
  probabilitiesOf,
  reader,
  readerToken,
  rows,
  SET_ALIAS,
  scratch,
  server,
  setAlias,
  trainer,
  UNDO,
  useRolloutServer,
} from './rolloutServer.js';

useRolloutServer('shared');

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('aliases', () => {
  it('answers with the default ensemble as champion until an alias is set; a move is one recorded change and a rollback is one undo', async () => {
    const before = await classify({ images: [await image(rows[0]!)] });
    expect(before.served).toEqual({ alias: 'champion', role: 'CHAMPION' });
    expect(before.model).toBe('pair');

    const created = await setAlias({ name: 'champion', target: { artifactId: String(artifactA) } });
    expect(created.target).toEqual({ kind: 'ARTIFACT', id: String(artifactA), name: expect.any(String) });
    expect(created.history).toHaveLength(1);
    expect(created.history[0]).toMatchObject({ actor: 'rollout trainer', before: null, after: { target: { id: String(artifactA) }, mode: 'NONE' } });
    expect((await classify({ images: [await image(rows[0]!)] })).artifact?.id).toBe(String(artifactA));

    const moved = await setAlias({ name: 'champion', target: { artifactId: String(artifactB) } });
    expect(moved.history.map((h: { before: { target: { id: string } } | null }) => h.before?.target.id ?? null)).toEqual([String(artifactA), null]);
    expect((await classify({ images: [await image(rows[0]!)] })).artifact?.id).toBe(String(artifactB));

    const { data, errors } = await trainer(UNDO, { name: 'champion' });
    expect(errors).toBeUndefined();
    expect(data?.undoAliasChange.target).toEqual({ kind: 'ARTIFACT', id: String(artifactA) });
    const [undo, undone] = data!.undoAliasChange.history;
    expect(undo.undoes).toBe(undone.id);
    expect(undone.undoneAt).not.toBeNull();
    expect((await classify({ images: [await image(rows[0]!)] })).artifact?.id).toBe(String(artifactA));
    // Only the creation is left, and it has nothing before it.
    const again = await trainer(UNDO, { name: 'champion' });
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');

    // setDefaultEnsemble moves champion (deprecated, still recorded), and the ensemble is the default.
    const set = await trainer(`mutation($id: ID!) { setDefaultEnsemble(id: $id) { id isDefault } }`, { id: String(ensembleId) });
    expect(set.data?.setDefaultEnsemble.isDefault).toBe(true);
    const champion = await app.services.aliases.get('champion');
    expect([champion.targetKind, champion.targetId]).toEqual(['ensemble', ensembleId]);
    expect((await classify({ images: [await image(rows[0]!)] })).model).toBe('pair');
    await setAlias({ name: 'champion', target: { artifactId: String(artifactA) } });
    expect((await app.services.ensembles.getDefault())?.id).toBeUndefined();
  });

  it('refuses what it cannot do, naming the limit, and lets only trainers move aliases', async () => {
    const refused = async (input: Record<string, unknown>, client = trainer) => (await client(SET_ALIAS, { input })).errors?.[0];
    expect(await refused({ name: 'challenger', target: { artifactId: String(artifactB) } }, reader)).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(
      (
        await refused({
          name: 'c',
          target: { artifactId: String(artifactA) },
          candidate: { artifactId: String(artifactB) },
          mode: 'CANARY',
          canaryPercent: 150,
        })
      )?.message,
    ).toMatch(/canaryPercent must be between 0 and 100/);
    expect((await refused({ name: 'c', target: { artifactId: String(artifactA) }, mode: 'SHADOW' }))?.message).toMatch(/a shadow needs a candidate/);
    expect((await refused({ name: 'c', target: { artifactId: String(artifactA) }, logRate: 2 }))?.message).toMatch(/logRate must be between 0 and 1/);
    expect((await refused({ name: 'Bad Name', target: { artifactId: String(artifactA) } }))?.message).toMatch(/lowercase letters/);
    expect((await refused({ name: 'c', target: { artifactId: '999' } }))?.extensions?.code).toBe('NOT_FOUND');
    const unknown = await reader(CLASSIFY, { input: { images: [await image(rows[0]!)], model: 'nope' } });
    expect(unknown.errors?.[0]).toMatchObject({ message: 'alias "nope" does not exist', extensions: { code: 'NOT_FOUND' } });
    expect(await app.services.db.modelAlias.count({ where: { name: { in: ['c', 'Bad Name'] } } })).toBe(0);
  });
});

describe('canary', () => {
  it('sends 10 % +- 3 % of 2,000 requests from 1,000 tokens to the candidate, every token always to the same side', async () => {
    await setAlias({
      name: 'rollout',
      target: { artifactId: String(artifactA) },
      candidate: { artifactId: String(artifactB) },
      mode: 'CANARY',
      canaryPercent: 10,
    });
    const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => app.services.tokens.create(`canary client ${i}`, 'reader')));
    const photo = await image(rows[1]!);
    const sides = new Map<string, Set<string>>();
    let candidate = 0;
    const queue = tokens.flatMap((t) => [t, t]);
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let next = queue.pop(); next; next = queue.pop()) {
          const answer = await classify({ images: [photo], model: 'rollout' }, graphqlClient(server.graphqlUrl, next.token));
          // The answer says who answered, and it is that model.
          expect(answer.artifact?.id).toBe(String(answer.served.role === 'CANDIDATE' ? artifactB : artifactA));
          if (answer.served.role === 'CANDIDATE') candidate++;
          sides.set(next.token, (sides.get(next.token) ?? new Set()).add(answer.served.role));
        }
      }),
    );
    expect(candidate / 2000).toBeGreaterThanOrEqual(0.07);
    expect(candidate / 2000).toBeLessThanOrEqual(0.13);
    expect([...sides.values()].every((s) => s.size === 1)).toBe(true);
    // The side is the hash of alias and client: a wider canary keeps its clients on the candidate.
    const onCandidate = tokens.filter((t) => sides.get(t.token)!.has('CANDIDATE'));
    for (const t of onCandidate.slice(0, 20)) expect(canaryBucket('rollout', `token ${t.id}`) * 100).toBeLessThan(10);
    await setAlias({
      name: 'rollout',
      target: { artifactId: String(artifactA) },
      candidate: { artifactId: String(artifactB) },
      mode: 'CANARY',
      canaryPercent: 30,
    });
    for (const t of onCandidate.slice(0, 20)) {
      expect((await classify({ images: [photo], model: 'rollout' }, graphqlClient(server.graphqlUrl, t.token))).served.role).toBe('CANDIDATE');
    }
    // Rolling back is one call: the alias is a plain 10 % canary again.
    const { data } = await trainer(UNDO, { name: 'rollout' });
    expect(data?.undoAliasChange.mode).toBe('CANARY');
    expect((await app.services.aliases.get('rollout')).canaryPercent).toBe(10);
    const live = await reader(`{ alias(name: "rollout") { live { sides { role requests images meanLatencyMs confidence { task value } } } } }`);
    const liveSides = live.data!.alias.live.sides as { role: string; requests: number; confidence: { value: number }[] }[];
    expect(liveSides.find((s) => s.role === 'CANDIDATE')!.requests).toBe(candidate + 20);
    expect(liveSides.find((s) => s.role === 'CHAMPION')!.requests).toBe(2000 - candidate);
    for (const side of liveSides) for (const c of side.confidence) expect(c.value).toBeGreaterThan(1 / 7 - 1e-9);
  }, 300_000);
});

describe('shadow', () => {
  it('never changes an answer or its latency while the candidate scores every request', async () => {
    const images = await Promise.all(rows.slice(0, 8).map(image));
    await setAlias({ name: 'unshadowed', target: { artifactId: String(artifactA) } });
    await setAlias({ name: 'shadowed', target: { artifactId: String(artifactA) }, candidate: { artifactId: String(artifactB) }, mode: 'SHADOW' });
    // Latency in process, without HTTP: a shadow on the answer path would double it. The two aliases
    // take turns, so whatever else loads the machine (CI runs test files side by side) lands on both.
    const serve = async (model: string, latencies: number[]) => {
      const started = performance.now();
      const answer = await app.services.router.serve({
        images: images.map((x) => ({ image: Buffer.from(x.image, 'base64'), bbox: x.bbox })),
        model,
        client: 'latency probe',
      });
      latencies.push(performance.now() - started);
      await app.services.router.settled();
      return answer;
    };
    const plain = { answers: [] as Awaited<ReturnType<typeof serve>>[], latencies: [] as number[] };
    const shadowed = { answers: [] as Awaited<ReturnType<typeof serve>>[], latencies: [] as number[] };
    for (let i = 0; i < 25; i++) {
      plain.answers.push(await serve('unshadowed', plain.latencies));
      shadowed.answers.push(await serve('shadowed', shadowed.latencies));
    }
    const withShadow = shadowed.answers.map((a) => a.results.map((r) => r.map((t) => t.probabilities)));
    expect(withShadow).toEqual(plain.answers.map((a) => a.results.map((r) => r.map((t) => t.probabilities))));
    expect(shadowed.answers.every((a) => a.served.role === 'CHAMPION' && a.target.id === artifactA)).toBe(true);
    console.log(`shadow: median latency ${median(shadowed.latencies).toFixed(1)} ms beside ${median(plain.latencies).toFixed(1)} ms without`);
    expect(median(shadowed.latencies)).toBeLessThan(median(plain.latencies) * 1.4 + 2);

    // Over HTTP, back to back: the same answers as without the shadow, and the shadow scored every request.
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await classify({ images, model: 'shadowed' }));
    await app.services.router.settled();
    for (const answer of answers) {
      expect(answer.served.role).toBe('CHAMPION');
      expect(answer.results.map(probabilitiesOf)).toEqual(withShadow[0]);
    }
    const comparison = app.services.router.comparison('shadowed');
    expect(comparison.shadow).toMatchObject({ scored: 45, skipped: 0, failed: 0 });
    expect(comparison.sides.find((s) => s.role === 'SHADOW')!.images).toBe(45 * 8);
    // Agreement, checked by hand: the candidate's own answers against the champion's.
    const candidate = await app.services.classify.score({
      images: images.map((x) => ({ image: Buffer.from(x.image, 'base64'), bbox: x.bbox })),
      artifactId: artifactB,
    });
    const argmax = (p: number[]) => p.indexOf(Math.max(...p));
    comparison.shadow.agreement.forEach(({ value }, t) => {
      const agree = candidate.results.filter((r, i) => argmax(r[t]!.probabilities) === argmax(withShadow[0]![i]![t]!)).length / 8;
      expect(value).toBeCloseTo(agree, 12);
    });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/fashion_how_shadow_agreement_total\{alias="shadowed",task="Daily",agree="(true|false)"\}/);
  }, 120_000);
});

describe('Open Inference Protocol', () => {
  const v2 = (route: string, init: RequestInit = {}, token: string | null = readerToken) =>
    fetch(`${server.url}/v2${route}`, { ...init, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const infer = (name: string, body: unknown, token?: string | null) => v2(`/models/${name}/infer`, { method: 'POST', body: JSON.stringify(body) }, token);

  it('answers health, metadata and readiness', async () => {
    await setAlias({ name: 'oip', target: { artifactId: String(artifactA) } });
    expect(await (await v2('/health/live', {}, null)).json()).toEqual({ live: true });
    const ready = await v2('/health/ready', {}, null);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    const artifact = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: artifactA } });
    const info = artifact.modelInfo as unknown as ModelInfo;
    const metadata = await (await v2('/models/oip')).json();
    expect(metadata).toEqual({
      name: 'oip',
      versions: [`artifact-${artifactA}`],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'image', datatype: 'BYTES', shape: [-1] },
        { name: 'bbox', datatype: 'INT32', shape: [-1, 4] },
        { name: 'input', datatype: 'FP32', shape: [-1, 3, info.input.size, info.input.size] },
      ],
      outputs: info.tasks.map((t) => ({ name: t.name, datatype: 'FP32', shape: [-1, t.classes.length] })),
    });
    expect((await v2('/models/pair')).status).toBe(200);
    const modelReady = await v2('/models/oip/ready');
    expect(modelReady.status).toBe(200);
    expect(await modelReady.json()).toEqual({ name: 'oip', ready: true });
    expect((await v2('/models/nothing')).status).toBe(404);
  });

  it('answers the same probabilities as classify, from BYTES images with boxes and from an FP32 tensor', async () => {
    const chosen = rows.slice(10, 13);
    const viaGraphql = await classify({ images: await Promise.all(chosen.map(image)), model: 'oip' });
    const body = {
      id: 'request-1',
      inputs: [
        { name: 'image', datatype: 'BYTES', shape: [3], data: await Promise.all(chosen.map(b64)) },
        { name: 'bbox', datatype: 'INT32', shape: [3, 4], data: chosen.map((r) => [r.bbox.xmin, r.bbox.ymin, r.bbox.xmax, r.bbox.ymax]) },
      ],
    };
    const response = await infer('oip', body);
    expect(response.status).toBe(200);
    const answer = (await response.json()) as any;
    expect(answer).toMatchObject({
      model_name: 'oip',
      model_version: `artifact-${artifactA}`,
      id: 'request-1',
      parameters: { alias: 'oip', role: 'CHAMPION' },
    });
    const tasks = viaGraphql.results[0]!.tasks.map((t) => t.task);
    expect(answer.outputs.map((o: { name: string }) => o.name)).toEqual(tasks);
    for (const [t, output] of answer.outputs.entries()) {
      expect(output.shape).toEqual([3, viaGraphql.results[0]!.tasks[t]!.distribution.length]);
      expect(output.data).toEqual(viaGraphql.results.flatMap((r) => r.tasks[t]!.distribution.map((d) => d.probability)));
    }

    // The client preprocesses (the serving preprocessing, run here) and sends the tensor.
    const artifact = await app.services.db.modelArtifact.findUniqueOrThrow({ where: { id: artifactA } });
    const spec = preprocessSpecOf((artifact.modelInfo as unknown as ModelInfo).input);
    const tensors = await Promise.all(chosen.map(async (r) => (await preprocess(path.join(imageRoot, r.imageName), r.bbox, spec, LIMITS)).tensor));
    const data = tensors.flatMap((t) => Array.from(t));
    const fromTensor: any = await (
      await infer('oip', { inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 3, spec.size, spec.size], data }], outputs: [{ name: tasks[1] }] })
    ).json();
    expect(fromTensor.outputs).toHaveLength(1);
    expect(fromTensor.outputs[0].name).toBe(tasks[1]);
    fromTensor.outputs[0].data.forEach((p: number, i: number) => {
      expect(p).toBeCloseTo(answer.outputs[1].data[i], 6);
    });
  });

  it("refuses what it cannot answer with the protocol's error shape, the limits named, and the same tokens as GraphQL", async () => {
    const one = { name: 'image', datatype: 'BYTES', shape: [1], data: [await b64(rows[0]!)] };
    const box = { name: 'bbox', datatype: 'INT32', shape: [1, 4], data: [[rows[0]!.bbox.xmin, rows[0]!.bbox.ymin, rows[0]!.bbox.xmax, rows[0]!.bbox.ymax]] };
    const cases: [unknown, number, RegExp][] = [
      [{ inputs: [one] }, 400, /give "image" \(BYTES, base64, shape \[N\]\) and "bbox"/],
      [{ inputs: [{ ...one, shape: [2] }, box] }, 400, /has 1 values; shape \[2\] needs 2/],
      [{ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 8, 8], data: new Array(192).fill(0) }] }, 400, /takes \[N, 3, 32, 32\]/],
      [
        {
          inputs: [
            { ...one, shape: [17], data: new Array(17).fill(one.data[0]) },
            { ...box, shape: [17, 4], data: new Array(17).fill(box.data[0]) },
          ],
        },
        400,
        /at most 16 images \(FASHION_HOW_MAX_CLASSIFY_IMAGES\)/,
      ],
      [{ inputs: [one, { ...box, data: [[0, 0, 10_000, 10]] }] }, 400, /image\[0\]|bbox|outside|inside/],
    ];
    for (const [body, status, message] of cases) {
      const response = await infer('oip', body);
      expect(response.status).toBe(status);
      const answer = (await response.json()) as { error: string };
      expect(answer.error).toMatch(message);
      expect(JSON.stringify(answer)).not.toContain(scratch.dir);
    }
    // A version other than the one the name serves, an output it does not have, a body that is not JSON.
    expect((await v2(`/models/oip/versions/artifact-${artifactB}/infer`, { method: 'POST', body: JSON.stringify({ inputs: [one, box] }) })).status).toBe(404);
    const unknownOutput = await infer('oip', { inputs: [one, box], outputs: [{ name: 'Colour' }] });
    expect(unknownOutput.status).toBe(400);
    expect(((await unknownOutput.json()) as { error: string }).error).toMatch(/unknown output Colour; the outputs are Daily, Gender, Embellishment/);
    const notJson = await v2('/models/oip/infer', { method: 'POST', body: '{"inputs": [' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/must be JSON/);
    const anonymous = await infer('oip', { inputs: [one, box] }, null);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toMatch(/needs an API token/);
    // The server keeps answering.
    expect((await infer('oip', { inputs: [one, box] })).status).toBe(200);
  });
});

describe('one naming of models across protocols', () => {
  const expectClose = (actual: number[], expected: number[]) => {
    expect(actual).toHaveLength(expected.length);
    expect(Math.max(...actual.map((p, i) => Math.abs(p - expected[i]!)))).toBeLessThan(1e-6);
  };
  const v2 = (route: string, init: RequestInit = {}) =>
    fetch(`${server.url}/v2${route}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${readerToken}` } });

  it('answers the same model named four ways identically through classify and /v2, and an unknown name with one NOT_FOUND', async () => {
    // An ensemble that really votes: A once, B three times, so a wrong member or weight shows in the numbers.
    const duo = await app.services.ensembles.create({
      name: 'weighted duo',
      members: [
        { artifactId: artifactA, weight: 1 },
        { artifactId: artifactB, weight: 3 },
      ],
    });
    await setAlias({ name: 'duo', target: { ensembleId: String(duo.id) } });
    const chosen = rows.slice(20, 23);
    const images = await Promise.all(chosen.map(image));

    // The soft vote computed here from each member's own answer, not through the ensemble.
    const decoded = images.map((x) => ({ image: Buffer.from(x.image, 'base64'), bbox: x.bbox }));
    const [alone, other] = await Promise.all([artifactA, artifactB].map((artifactId) => app.services.classify.score({ images: decoded, artifactId })));
    const expected = alone!.results.map((tasks, i) =>
      tasks.map((t, k) => t.probabilities.map((p, c) => (p + 3 * other!.results[i]![k]!.probabilities[c]!) / 4)),
    );

    const graphqlWays: Record<string, unknown>[] = [
      { model: 'duo' },
      { model: 'weighted duo' },
      { model: `ensemble-${duo.id}` },
      { ensembleId: String(duo.id) },
    ];
    for (const way of graphqlWays) {
      const answer = await classify({ images, ...way });
      expect(answer.model).toBe('weighted duo');
      expect(answer.served).toEqual(way.model === 'duo' ? { alias: 'duo', role: 'CHAMPION' } : { alias: null, role: 'DIRECT' });
      expectClose(answer.results.flatMap(probabilitiesOf).flat(), expected.flat(2));
    }
    const body = {
      inputs: [
        { name: 'image', datatype: 'BYTES', shape: [3], data: await Promise.all(chosen.map(b64)) },
        { name: 'bbox', datatype: 'INT32', shape: [3, 4], data: chosen.map((r) => [r.bbox.xmin, r.bbox.ymin, r.bbox.xmax, r.bbox.ymax]) },
      ],
    };
    for (const name of ['duo', 'weighted duo', `ensemble-${duo.id}`]) {
      const response = await v2(`/models/${encodeURIComponent(name)}/infer`, { method: 'POST', body: JSON.stringify(body) });
      expect(response.status).toBe(200);
      const answer = (await response.json()) as { model_version: string; parameters: { role: string }; outputs: { shape: number[]; data: number[] }[] };
      expect(answer.model_version).toBe(`ensemble-${duo.id}`);
      expect(answer.parameters.role).toBe(name === 'duo' ? 'CHAMPION' : 'DIRECT');
      expect(answer.outputs.map((o) => o.shape)).toEqual(expected[0]!.map((classes) => [3, classes.length]));
      // The protocol's outputs are per task, [N, K] each: the same numbers, ordered task first.
      expectClose(
        answer.outputs.flatMap((o) => o.data),
        expected[0]!.flatMap((_, k) => expected.flatMap((perImage) => perImage[k]!)),
      );
      expect(((await (await v2(`/models/${encodeURIComponent(name)}`)).json()) as { versions: string[] }).versions).toEqual([`ensemble-${duo.id}`]);
    }
    // An artifact by name and by id: the same answer.
    const byName = await classify({ images, model: `artifact-${artifactB}` });
    const byId = await classify({ images, artifactId: String(artifactB) });
    expect(byName.artifact?.id).toBe(String(artifactB));
    expect(byName.results.map(probabilitiesOf)).toEqual(byId.results.map(probabilitiesOf));
    expect(byName.results.map(probabilitiesOf)).toEqual(other!.results.map((tasks) => tasks.map((t) => t.probabilities)));

    // A name that is nothing: the same NOT_FOUND, said the same way, by both protocols and for metadata.
    const unknown = await reader(CLASSIFY, { input: { images, model: 'nowhere' } });
    expect(unknown.errors?.[0]).toMatchObject({ message: 'alias "nowhere" does not exist', extensions: { code: 'NOT_FOUND' } });
    for (const response of [await v2('/models/nowhere/infer', { method: 'POST', body: JSON.stringify(body) }), await v2('/models/nowhere')]) {
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: unknown.errors![0]!.message });
    }
    // A name and an id at once is one model too many.
    const both = await reader(CLASSIFY, { input: { images, model: 'duo', ensembleId: String(duo.id) } });
    expect(both.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
