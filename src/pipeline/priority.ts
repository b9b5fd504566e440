/**
 * Priority in the queue under Law 15/2023/QH15 Art. 3 cl. 2 (in force 1 Jan 2024): among
 * others, persons aged 75 or more and children under 6. Only these two can be derived from the
 * card; pregnancy, disability and merit need a declaration (staff or a front end). Pure.
 */
export type PriorityReason = 'elderly' | 'young-child';

export const PRIORITY_WORDS: Readonly<Record<PriorityReason, string>> = {
  elderly: 'Người cao tuổi (từ 75 tuổi)',
  'young-child': 'Trẻ em dưới 6 tuổi',
};

/**
 * Age in whole years on `today` from an ISO date of birth (`YYYY-MM-DD`), or from a birth
 * year alone (`YYYY`), in which case the age is the one reached during this year: a patient
 * born in 1951 is treated as 75 for all of 2026, erring towards priority.
 */
export function ageOn(dateOfBirth: string, today: { year: number; month: number; day: number }): number | null {
  const m = /^(\d{4})(?:-(\d{2})-(\d{2}))?$/.exec(dateOfBirth);
  if (!m) return null;
  const year = Number(m[1]);
  if (m[2] === undefined) return today.year - year;
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hadBirthday = today.month > month || (today.month === month && today.day >= day);
  return today.year - year - (hadBirthday ? 0 : 1);
}

export function priorityOf(dateOfBirth: string, today: { year: number; month: number; day: number }): PriorityReason | null {
  const age = ageOn(dateOfBirth, today);
  if (age === null) return null;
  if (age >= 75) return 'elderly';
  // With a year alone, "age" is the highest this year, so under 6 holds all year.
  if (age < 6) return 'young-child';
  return null;
}
