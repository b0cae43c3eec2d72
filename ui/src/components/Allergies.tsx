// Allergies: the badge on a patient's card (every role), the list with "add" and
// "mark inactive" for clinicians, and the prescription pad's warnings that must be
// acknowledged. Who may do what comes from the generated permission table (lib/rules).

import { useState } from "preact/hooks";
import { useClinicData } from "../lib/useClinicData";
import { api } from "../lib/ipc";
import { may } from "../lib/rules";
import type { Allergy, AllergySeverity, AllergyWarning, Role } from "../lib/types";
import { en } from "../strings/en";
import { ErrorBanner, Field, Select, useAction } from "./common";

const severities: AllergySeverity[] = ["mild", "moderate", "severe", "life_threatening"];

/** "Amoxicillin (severe)" for each active allergy; nothing when there is none. */
export function allergySummary(allergies: Allergy[]): string {
  return allergies
    .filter((a) => a.status === "active")
    .map((a) => `${a.substance} (${en.allergy.severities[a.severity]})`)
    .join(", ");
}

/**
 * The red badge on the patient card. Given the allergies (the chart has them) it shows
 * those; otherwise it loads them, and again whenever the clinic's data changes.
 */
export function AllergyBadge(props: { patientId: string; allergies?: Allergy[] }) {
  const { data: loaded } = useClinicData<Allergy[] | null>(
    () => (props.allergies ? Promise.resolve(props.allergies) : api.patientAllergies(props.patientId)),
    [props.patientId, props.allergies], null,
  );
  const allergies = props.allergies ?? loaded;
  if (!allergies) return null;
  const summary = allergySummary(allergies);
  return summary
    ? <p class="allergy-badge" data-testid="allergy-badge" role="note">{en.allergy.badge}: {summary}</p>
    : <p class="muted small" data-testid="allergy-badge-none">{en.allergy.none}</p>;
}

/** The chart's allergy section: list, add (clinicians), mark inactive. */
export function AllergyList(props: { patientId: string; role: Role; allergies: Allergy[]; onChanged: () => void }) {
  const canWrite = may(props.role, "allergy", "create");
  const [substance, setSubstance] = useState("");
  const [reaction, setReaction] = useState("");
  const [severity, setSeverity] = useState<AllergySeverity>("moderate");
  const { busy, error, run } = useAction();
  const add = async (e: Event) => {
    e.preventDefault();
    const done = await run(() => api.recordAllergy({ id: null, patient_id: props.patientId, substance, reaction, severity }));
    if (done) { setSubstance(""); setReaction(""); props.onChanged(); }
  };
  const deactivate = async (a: Allergy) => {
    if (await run(() => api.updateAllergy(a.id, { base_version: null, substance: null, reaction: null, severity: null, status: "inactive" }))) props.onChanged();
  };
  return (
    <section class="card allergies" data-testid="allergies">
      <h3>{en.allergy.title}</h3>
      <ErrorBanner error={error} />
      {props.allergies.length === 0 && <p class="muted">{en.allergy.none}</p>}
      <ul>
        {props.allergies.map((a) => (
          <li key={a.id} class={a.status === "inactive" ? "muted" : "allergy-active"}>
            <strong>{a.substance}</strong> · {en.allergy.severities[a.severity]}{a.reaction ? ` · ${a.reaction}` : ""}
            {a.status === "inactive" && ` · ${en.allergy.inactive}`}
            {canWrite && a.status === "active" && may(props.role, "allergy", "update") &&
              <button class="small subtle" disabled={busy} onClick={() => deactivate(a)}>{en.allergy.markInactive}</button>}
          </li>
        ))}
      </ul>
      {canWrite && (
        <form class="row" onSubmit={add}>
          <Field name="allergy-substance" label={en.allergy.substance} value={substance} onInput={setSubstance} />
          <Field name="allergy-reaction" label={en.allergy.reaction} value={reaction} onInput={setReaction} />
          <Select name="allergy-severity" label={en.allergy.severity} value={severity}
            options={severities.map((s) => [s, en.allergy.severities[s]] as [AllergySeverity, string])} onChange={setSeverity} />
          <button type="submit" disabled={busy || substance.trim() === ""}>{en.allergy.add}</button>
        </form>
      )}
    </section>
  );
}

/** Warnings on the prescription pad; each must be ticked before the pad issues. */
export function AllergyWarnings(props: { warnings: AllergyWarning[]; acknowledged: string[]; onToggle: (allergyId: string) => void }) {
  if (props.warnings.length === 0) return null;
  return (
    <div class="banner error allergy-warnings" role="alert" data-testid="allergy-warnings">
      {props.warnings.map((w) => (
        <label key={`${w.allergy_id}-${w.item}`} class="row">
          <input type="checkbox" checked={props.acknowledged.includes(w.allergy_id)} onChange={() => props.onToggle(w.allergy_id)}
            data-testid="allergy-ack" />
          {en.allergy.warning(w.drug, w.substance, en.allergy.severities[w.severity], w.reaction)}
        </label>
      ))}
    </div>
  );
}
