// The fusion's calibration check of a camera (`Camera.calibration_check`, written by the server about once a
// minute): how far apart this camera and each other camera of the site place the people both see
// (docs/installer-guide.md, section 8). Shown in the cameras list as the worst pair.

export interface CalibrationPair {
  other_camera: number;
  median_m: number;
  p90_m: number;
  offset_m: [number, number];
  samples: number;
  suspect: boolean;
}

export interface CalibrationCheck {
  measured_at?: string;
  pairs?: CalibrationPair[];
}

/** The pair that matters most: a suspect one first, then the one farthest apart (median). */
export function worstPair(check: unknown): CalibrationPair | null {
  const pairs = ((check ?? {}) as CalibrationCheck).pairs ?? [];
  let worst: CalibrationPair | null = null;
  for (const pair of pairs) {
    if (
      worst === null ||
      (pair.suspect && !worst.suspect) ||
      (pair.suspect === worst.suspect && pair.median_m > worst.median_m)
    ) {
      worst = pair;
    }
  }
  return worst;
}

/** One line for the cameras list: "0.11 m from Door", or a warning naming the pair to recalibrate. */
export function calibrationCheckText(check: unknown, nameOf: (cameraId: number) => string): string {
  const worst = worstPair(check);
  if (worst === null) return "no shared view yet";
  const others = (((check ?? {}) as CalibrationCheck).pairs ?? []).length - 1;
  const more = others > 0 ? ` (+${others} more)` : "";
  const name = nameOf(worst.other_camera);
  if (worst.suspect) {
    return `⚠ ${worst.median_m.toFixed(2)} m from ${name} (90 % within ${worst.p90_m.toFixed(2)} m): check the calibration${more}`;
  }
  return `${worst.median_m.toFixed(2)} m from ${name}${more}`;
}
