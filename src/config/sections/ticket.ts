import { z } from 'zod';

/** `ticket`: what every ticket prints, and in which time zone. */
export const ticketSchema = z
  .strictObject({
    hospital: z.string().min(1).max(120).default('BỆNH VIỆN').describe('printed at the top of every ticket'),
    subtitle: z.string().max(120).nullable().default(null),
    footer: z.string().max(200).default('Vui lòng chờ gọi số. Xin cảm ơn!'),
    showName: z.boolean().default(true).describe("print the patient's full name (the ID is always masked to its last 4 digits)"),
    timeZone: z
      .string()
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'must be an IANA time zone such as Asia/Ho_Chi_Minh')
      .default('Asia/Ho_Chi_Minh'),
  })
  .prefault({});
