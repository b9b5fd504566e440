import { z } from 'zod';
import { durationMs } from './common.js';

/** `checkin`: the check-in policy, departments, numbering and step time limits. */

const departmentSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'must be 1–32 lower-case letters, digits or dashes')
    .describe('short id used in MQTT and the audit'),
  name: z.string().min(1).max(80).describe('printed on the ticket, e.g. "Khoa Khám bệnh"'),
  prefix: z
    .string()
    .regex(/^[A-Z]{1,3}$/, 'must be 1–3 capital letters')
    .describe('queue-number prefix, e.g. "A" gives A001'),
  room: z.string().max(80).nullable().default(null).describe('where to go, printed under the department'),
});

export const checkinSchema = z
  .strictObject({
    consentTimeoutSec: z.number().int().min(5).max(300).default(30).describe('how long the kiosk waits for the patient to agree to the face check'),
    verifyAttempts: z.number().int().min(1).max(5).default(3).describe('tries at a matching face before the patient is sent to the counter'),
    retryPauseMs: durationMs(0, 10_000).default(800).describe('pause between tries, so the patient can move'),
    noPortrait: z
      .enum(['counter', 'unverified'])
      .default('counter')
      .describe('no reference portrait (or no face engine): send the patient to the counter, or print a ticket marked "not face-verified"'),
    departments: z
      .array(departmentSchema)
      .min(1)
      .default([{ id: 'kham-benh', name: 'Khoa Khám bệnh', prefix: 'A', room: null }])
      .describe('where a checked-in patient can be sent; the first is the default'),
    departmentChoiceSec: z
      .number()
      .int()
      .min(0)
      .max(120)
      .default(0)
      .describe('time for the patient to pick a department at the kiosk (its local screen; never over MQTT); 0: always the default'),
    counter: departmentSchema
      .omit({ id: true })
      .prefault({ name: 'Quầy tiếp đón', prefix: 'Q' })
      .describe('the reception counter: tickets for patients the kiosk cannot check in'),
    numbering: z
      .strictObject({
        resetAt: z
          .string()
          .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM')
          .default('00:00')
          .describe('local time (ticket.timeZone) at which every sequence starts again at 1'),
        digits: z.number().int().min(2).max(5).default(3),
        priorityMark: z
          .string()
          .regex(/^[A-Z]{1,2}$/)
          .default('U')
          .describe('added to the prefix for the priority lane (Law 15/2023: 75 and over, under 6): A → AU'),
      })
      .prefault({}),
    retentionDays: z.number().int().min(1).max(3650).default(90).describe('check-in records older than this are deleted'),
    timeouts: z
      .strictObject({
        portraitMs: durationMs(500, 60_000).default(4000),
        captureMs: durationMs(500, 60_000).default(5000),
        verifyMs: durationMs(500, 120_000).default(15_000),
        insuranceMs: durationMs(500, 60_000).default(10_000),
        numberMs: durationMs(100, 60_000).default(3000),
        printMs: durationMs(1000, 300_000).default(30_000),
      })
      .prefault({})
      .describe('time limit of each step; a step past it is aborted'),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    for (const [i, d] of c.departments.entries()) {
      if (seen.has(d.id)) ctx.addIssue({ code: 'custom', path: ['departments', i, 'id'], message: `department id "${d.id}" is used twice` });
      seen.add(d.id);
      if (d.prefix === c.counter.prefix)
        ctx.addIssue({ code: 'custom', path: ['departments', i, 'prefix'], message: `prefix "${d.prefix}" is the counter's` });
    }
    const prefixes = c.departments.map((d) => d.prefix);
    if (new Set(prefixes).size !== prefixes.length)
      ctx.addIssue({ code: 'custom', path: ['departments'], message: 'two departments share a prefix: their numbers would collide' });
  })
  .prefault({});

export type CheckinConfig = z.output<typeof checkinSchema>;
