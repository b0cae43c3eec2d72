// Clinic admins: members and roles, the audit trail ("who viewed this patient") and the
// catalogue of services and goods. Members and the audit trail are online-only; the
// catalogue is kept on the PC and edited offline too (it syncs like other clinic data).

import { useEffect, useState } from "preact/hooks";
import { api, readableError } from "../lib/ipc";
import { formatDate, formatDateTime, parseDate, startOfDay, addDays } from "../lib/dates";
import type { AuditAction, AuditEntry, AuditQuery, CatalogueItem, ClinicView, GroupCatalogue, GroupCatalogueItem, Hub, Invitation, Member, MemberDevice, Patient, Role, Uuid } from "../lib/types";
import { PatientSearch } from "../components/PatientSearch";
import { formatRate, ratesInForce, todayInIndia } from "../lib/gst";
import { formatPaise, paiseToInput, parseRupees } from "../lib/money";
import { cleanText } from "../lib/validate";
import { LIMITS, STAFF_ROLES } from "../lib/rules";
import { fromTaxChoice, GOODS_UNITS, taxChoices } from "../lib/lines";
import { en } from "../strings/en";
import { shortId } from "../lib/ids";
import { ErrorBanner, Field, Notice, Select, useAction } from "../components/common";
import { useConfirm } from "../components/ConfirmDialog";

const ACTIONS: AuditAction[] = ["read", "list", "create", "update", "delete", "export", "print", "login", "denied", "discard", "wipe"];

export function AdminScreen(props: { clinic: ClinicView; branches?: number; auditPatient?: Patient | null }) {
  const [tab, setTab] = useState<"members" | "audit" | "catalogue">(props.auditPatient ? "audit" : "members");
  return (
    <div>
      <nav class="subtabs">
        <button class={tab === "members" ? "tab active" : "tab"} onClick={() => setTab("members")}>{en.nav.members}</button>
        <button class={tab === "audit" ? "tab active" : "tab"} onClick={() => setTab("audit")}>{en.nav.audit}</button>
        <button class={tab === "catalogue" ? "tab active" : "tab"} data-testid="tab-catalogue" onClick={() => setTab("catalogue")}>{en.nav.catalogue}</button>
      </nav>
      {tab === "members" ? <><Members clinic={props.clinic} /><Hubs /></> : tab === "audit" ? <Audit patient={props.auditPatient ?? null} /> : <Catalogue branches={props.branches ?? 1} />}
    </div>
  );
}

/** The first 16 hex digits of a hub's certificate fingerprint in groups of four, as
 * `vaidya-server hub status` prints the whole of it on the hub machine. */
export function fingerprintStart(sha256: string): string {
  return (sha256.toLowerCase().slice(0, 16).match(/.{1,4}/g) ?? []).join(" ") + " …";
}

/** The clinic's hubs: listed and revoked here, registered on the hub machine itself. */
export function Hubs() {
  const [hubs, setHubs] = useState<Hub[] | null>(null);
  const { error, run } = useAction();
  const confirm = useConfirm(en.common.cancel);
  // Plain, so an action can await it: `run` refuses a second action while one is running.
  const fetchHubs = async () => setHubs(await api.listHubs());
  const load = () => run(fetchHubs);
  useEffect(() => { load(); }, []);
  return (
    <section data-testid="hubs">
      <h2>{en.admin.hubs}</h2>
      <p class="muted">{en.admin.hubsHint} <code>{en.admin.hubsCommand}</code>.</p>
      <ErrorBanner error={error} />
      {confirm.dialog}
      {hubs && hubs.length === 0 && <p class="muted">{en.admin.noHubs}</p>}
      {hubs && hubs.length > 0 && (
        <table class="grid">
          <thead><tr><th>{en.admin.hubName}</th><th>{en.admin.registered}</th><th title={en.admin.hubCertificateHint}>{en.admin.hubCertificate}</th><th>{en.admin.hubState}</th><th /></tr></thead>
          <tbody>
            {hubs.map((h) => (
              <tr key={h.id} class={h.revoked_at ? "revoked" : ""}>
                <td>{h.name}</td>
                <td>{formatDate(h.registered_at)} · {h.registered_by}</td>
                <td title={en.admin.hubCertificateHint}>
                  {h.certificate_sha256 ? <code data-testid="hub-certificate">{fingerprintStart(h.certificate_sha256)}</code> : en.admin.hubNoCertificate}
                </td>
                <td>{h.revoked_at ? `${en.admin.revoked} ${formatDate(h.revoked_at)}`
                  : h.approved_at ? en.admin.hubApproved(h.approved_by ?? "", formatDate(h.approved_at))
                  : en.admin.hubWaiting}</td>
                <td>{!h.revoked_at && <button class="small subtle" data-testid="hub-revoke" onClick={() => confirm.ask({
                  title: en.admin.revokeHubTitle(h.name), body: en.admin.revokeHubBody, confirmLabel: en.admin.revoke, danger: true,
                  action: () => run(async () => { await api.revokeHub(h.id); await fetchHubs(); }),
                })}>{en.admin.revoke}</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Members(_props: { clinic: ClinicView }) {
  const [members, setMembers] = useState<Member[]>([]);
  // Which PCs hold (and sign for) each member's data: what to revoke when a PC is lost.
  const [devices, setDevices] = useState<MemberDevice[]>([]);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("front_desk");
  const [invited, setInvited] = useState<string | null>(null);
  // Open invitations: people outside the group asked to join, until they answer.
  const [invitations, setInvitations] = useState<Invitation[]>([]);
  const { busy, error, run } = useAction();
  const confirm = useConfirm(en.common.cancel);
  // The device column is an aid; if it cannot be read, the members (what an admin acts on)
  // still show, and the device column says why it is empty.
  const [devicesError, setDevicesError] = useState<unknown>(null);
  // Plain, so an action can await it: `run` refuses a second action while one is running
  // (a nested `run` would return at once and leave the list as it was).
  const fetchMembers = async () => {
    const [m, d, i] = await Promise.allSettled([api.listMembers(), api.memberDevices(), api.clinicInvitations()]);
    if (i.status === "fulfilled") setInvitations(i.value);
    if (d.status === "fulfilled") {
      setDevices(d.value);
      setDevicesError(null);
    } else {
      setDevicesError(d.reason);
    }
    if (m.status === "rejected") throw m.reason;
    setMembers(m.value);
  };
  const load = () => run(fetchMembers);
  useEffect(() => { load(); }, []);
  const roleOptions = STAFF_ROLES.map((r) => [r, en.roles[r]] as [Role, string]);
  return (
    <section>
      <h2>{en.admin.members}</h2>
      <ErrorBanner error={error} />
      {confirm.dialog}
      {devicesError ? <p class="banner error" role="alert">{en.admin.devicesUnavailable}: {readableError(devicesError)}</p> : null}
      <table class="grid">
        <thead><tr><th>{en.signIn.email}</th><th>{en.admin.role}</th><th>{en.admin.since}</th><th>{en.admin.devices}</th><th /></tr></thead>
        <tbody>
          {members.map((m) => (
            <tr key={m.id} class={m.revoked_at ? "revoked" : ""}>
              <td>
                {m.user.display_name} <span class="muted">{m.user.email}</span>
                {m.role === "doctor" && !m.revoked_at && <Registration member={m} onSaved={load} />}
              </td>
              <td>
                {m.revoked_at ? en.admin.revoked : (
                  <select value={m.role} onChange={(e) => {
                    const select = e.currentTarget as HTMLSelectElement;
                    const role = select.value as Role;
                    // Shown unchanged until confirmed.
                    select.value = m.role;
                    confirm.ask({
                      title: en.admin.roleTitle(m.user.display_name, en.roles[role]), body: en.admin.roleBody, confirmLabel: en.admin.change,
                      action: () => run(async () => { await api.setMemberRole(m.id, role); await fetchMembers(); }),
                    });
                  }}>
                    {STAFF_ROLES.map((r) => <option key={r} value={r}>{en.roles[r]}</option>)}
                  </select>
                )}
              </td>
              <td>{formatDate(m.created_at)}</td>
              <td data-testid="member-devices">
                {devices.filter((d) => d.user_id === m.user.id).map((d) => (
                  <div key={d.key_id} class={d.revoked_at ? "muted" : ""}>
                    {d.device ?? en.admin.unnamedDevice} · {formatDate(d.registered_at)}{d.revoked_at ? ` · ${en.admin.keyRevoked}` : ""}
                  </div>
                ))}
                {!devices.some((d) => d.user_id === m.user.id) && <span class="muted">{en.admin.noDevices}</span>}
              </td>
              <td>{!m.revoked_at && <button class="small subtle" onClick={() => confirm.ask({
                title: en.admin.revokeTitle(m.user.display_name), body: en.admin.revokeBody, confirmLabel: en.admin.revoke, danger: true,
                action: () => run(async () => { await api.revokeMember(m.id); await fetchMembers(); }),
              })}>{en.admin.revoke}</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {invitations.length > 0 && (
        <table class="grid" data-testid="open-invitations">
          <thead><tr><th>{en.admin.invitedEmail}</th><th>{en.admin.role}</th><th>{en.admin.until}</th><th /></tr></thead>
          <tbody>
            {invitations.map((i) => (
              <tr key={i.id}>
                <td>{i.email}</td><td>{en.roles[i.role]}</td><td>{formatDate(i.expires_at)}</td>
                <td><button class="small subtle" onClick={() => run(async () => { await api.withdrawInvitation(i.id); await fetchMembers(); })}>{en.admin.withdraw}</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {invited && <Notice>{en.admin.invited(invited)}</Notice>}
      <form class="row card" onSubmit={(e) => {
        e.preventDefault();
        setInvited(null);
        run(async () => {
          const added = await api.addMember({ email: email.trim(), role });
          if (added.outcome === "invited") setInvited(added.invitation.email);
          setEmail("");
          await fetchMembers();
        });
      }}>
        <Field name="member-email" label={en.admin.email} value={email} onInput={setEmail} type="email" />
        <Select name="member-role" label={en.admin.role} value={role} options={roleOptions} onChange={setRole} />
        <button type="submit" class="primary" disabled={busy}>{en.admin.addMember}</button>
      </form>
    </section>
  );
}

/** The audit trail, filtered by a patient chosen by name (or opened from their card's
 * "Access log"), a member chosen by name, an action and dates. */
function Audit(props: { patient: Patient | null }) {
  const [patient, setPatient] = useState<Patient | null>(props.patient);
  const [user, setUser] = useState("");
  const [members, setMembers] = useState<Member[]>([]);
  const [action, setAction] = useState<AuditAction | "">("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  // Who is who: member names by user id (ids are v7 UUIDs, whose leading digits are a
  // timestamp, so a short id shows the tail).
  const [names, setNames] = useState<Map<string, string>>(new Map());
  const { busy, error, run } = useAction();
  useEffect(() => {
    api.listMembers().then((ms) => { setMembers(ms); setNames(new Map(ms.map((m) => [m.user.id, m.user.display_name]))); }, () => {});
  }, []);
  const who = (id: string | null) => (id ? names.get(id) ?? shortId(id) : "—");

  const query = (offset: number): AuditQuery | null => {
    const f = from ? parseDate(from) : null;
    const t = to ? parseDate(to) : null;
    if ((from && !f) || (to && !t)) { setFormError(en.validation.date); return null; }
    setFormError(null);
    return {
      patient_id: patient?.id ?? null, user_id: user || null, action: action || null,
      from: f ? startOfDay(f).toISOString() : null, to: t ? addDays(startOfDay(t), 1).toISOString() : null, limit: 100, offset,
    };
  };
  const load = (offset = 0) => {
    const q = query(offset);
    if (!q) return;
    run(async () => {
      const page = await api.auditTrail(q);
      setEntries(offset === 0 ? page.items : [...entries, ...page.items]);
      setNext(page.next_offset);
    });
  };
  useEffect(() => load(0), []);
  return (
    <section>
      <h2>{en.admin.audit}</h2>
      <form class="row card" onSubmit={(e) => { e.preventDefault(); load(0); }}>
        <div class="field">
          <label>{en.admin.filterPatient}</label>
          {patient ? (
            <span data-testid="audit-patient">
              {patient.name} {patient.patient_number > 0 ? `#${patient.patient_number}` : ""}{" "}
              <button type="button" class="small subtle" onClick={() => setPatient(null)}>{en.admin.anyPatient}</button>
            </span>
          ) : (
            <PatientSearch onChoose={setPatient} compact />
          )}
        </div>
        <div class="field">
          <label for="audit-user">{en.admin.filterUser}</label>
          <select id="audit-user" value={user} onChange={(e) => setUser((e.currentTarget as HTMLSelectElement).value)}>
            <option value="">{en.admin.anyone}</option>
            {members.map((m) => <option key={m.user.id} value={m.user.id}>{m.user.display_name} ({en.roles[m.role]})</option>)}
          </select>
        </div>
        <div class="field">
          <label for="audit-action">{en.admin.filterAction}</label>
          <select id="audit-action" value={action} onChange={(e) => setAction((e.currentTarget as HTMLSelectElement).value as AuditAction | "")}>
            <option value="">{en.admin.anyAction}</option>
            {ACTIONS.map((a) => <option key={a} value={a}>{en.admin.actions[a]}</option>)}
          </select>
        </div>
        <Field name="audit-from" label={en.admin.from} value={from} onInput={setFrom} />
        <Field name="audit-to" label={en.admin.to} value={to} onInput={setTo} />
        <button type="submit" disabled={busy}>{en.admin.apply}</button>
      </form>
      {formError && <p class="error-text">{formError}</p>}
      <ErrorBanner error={error} />
      <table class="grid audit">
        <thead><tr><th>{en.admin.seq}</th><th>{en.admin.at}</th><th>{en.admin.actor}</th><th>{en.admin.action}</th><th>{en.admin.entity}</th><th>{en.admin.device}</th></tr></thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.seq} class={e.action === "denied" ? "denied" : ""}>
              <td>{e.seq}</td><td>{formatDateTime(e.at)}{e.occurred_at && e.occurred_at !== e.at && <div class="muted">{en.admin.onDevice(formatDateTime(e.occurred_at))}</div>}</td><td title={e.actor_id ?? ""}>{who(e.actor_id)}</td>
              <td>{en.admin.actions[e.action]}</td><td>{e.entity_type} <span class="mono muted">{e.entity_ids.map(shortId).join(", ")}</span></td>
              <td>{e.device ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {next !== null && <button onClick={() => load(next)} disabled={busy}>{en.admin.loadMore}</button>}
    </section>
  );
}

/** The catalogue: each item's code, how it is taxed, its unit and price; admins add items,
 * reprice them and retire them. A new rate is a new item (the old one is retired). The
 * admin of several branches of the group may add an item to all of them at once, and keeps
 * the group's catalogue below (online). */
function Catalogue(props: { branches: number }) {
  const [everywhere, setEverywhere] = useState(false);
  const [groupShown, setGroupShown] = useState(0);
  const [items, setItems] = useState<CatalogueItem[]>([]);
  const [form, setForm] = useState({ name: "", sac: "", tax: "exempt", unit: "NOS", price: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const { busy, error, run } = useAction();
  const load = () => run(async () => setItems(await api.listCatalogue()));
  useEffect(() => { load(); }, []);
  const choices = taxChoices(ratesInForce(todayInIndia()));
  const service = form.sac.trim().startsWith("99");
  const add = async (e: Event) => {
    e.preventDefault();
    const errs: Record<string, string> = {};
    const name = cleanText(form.name, LIMITS.line_description);
    if (!name.ok || name.value === "") errs.name = name.ok ? en.validation.required : name.error;
    if (!/^\d{4,8}$/.test(form.sac.trim())) errs.sac = en.validation.sacHsn;
    const price = parseRupees(form.price);
    if (!price.ok) errs.price = en.validation.amount;
    setErrors(errs);
    if (Object.keys(errs).length > 0 || !price.ok || !name.ok) return;
    const { rate, treatment } = fromTaxChoice(form.tax);
    const item = {
      id: null, name: name.value, sac_hsn: form.sac.trim(), treatment, gst_rate_bp: rate,
      unit: service ? "NA" : form.unit, price_paise: price.paise,
    };
    const ok = await run<unknown>(() => (everywhere ? api.addGroupCatalogueItem(item, null) : api.addCatalogueItem(item)));
    if (ok) {
      setForm({ name: "", sac: "", tax: "exempt", unit: "NOS", price: "" });
      load();
      if (everywhere) setGroupShown((n) => n + 1);
    }
  };
  const setActive = async (item: CatalogueItem, active: boolean) => {
    const ok = await run(() => api.updateCatalogueItem(item.id, { base_version: item.version, name: null, price_paise: null, active }));
    if (ok) load();
  };
  const reprice = async (item: CatalogueItem, text: string) => {
    const price = parseRupees(text);
    if (!price.ok || price.paise === item.price_paise) return;
    const ok = await run(() => api.updateCatalogueItem(item.id, { base_version: item.version, name: null, price_paise: price.paise, active: null }));
    if (ok) load();
  };
  return (
    <section class="catalogue">
      <h2>{en.catalogue.title}</h2>
      <p class="hint">{en.catalogue.hint}</p>
      <ErrorBanner error={error} />
      <table class="grid" data-testid="catalogue">
        <thead><tr><th>{en.catalogue.name}</th><th>{en.invoice.sacHsn}</th><th>{en.invoice.rate}</th><th>{en.invoice.unit}</th><th class="num">{en.catalogue.price}</th><th /></tr></thead>
        <tbody>
          {items.map((i) => (
            <tr key={i.id} class={i.active ? "" : "muted"}>
              <td>{i.name}</td><td>{i.sac_hsn}</td>
              <td>{i.treatment === "taxable" ? formatRate(i.gst_rate_bp) : en.invoice.treatments[i.treatment]}</td>
              <td>{i.unit}</td>
              <td class="num"><input class="w6" aria-label={en.catalogue.priceOf(i.name)} inputMode="decimal" defaultValue={paiseToInput(i.price_paise)}
                onBlur={(e) => reprice(i, (e.currentTarget as HTMLInputElement).value)} /></td>
              <td><button class="small subtle" disabled={busy} onClick={() => setActive(i, !i.active)}>{i.active ? en.catalogue.retire : en.catalogue.offer}</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="row" onSubmit={add}>
        <Field name="item-name" label={en.catalogue.name} value={form.name} onInput={(v) => setForm({ ...form, name: v })} error={errors.name} />
        <Field name="item-sac" label={en.invoice.sacHsn} value={form.sac} onInput={(v) => setForm({ ...form, sac: v })} error={errors.sac} />
        <div class="field">
          <label for="item-tax">{en.invoice.rate}</label>
          <select id="item-tax" value={form.tax} onChange={(e) => setForm({ ...form, tax: (e.currentTarget as HTMLSelectElement).value })}>
            {choices.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </div>
        {!service && (
          <div class="field">
            <label for="item-unit">{en.invoice.unit}</label>
            <select id="item-unit" value={form.unit} onChange={(e) => setForm({ ...form, unit: (e.currentTarget as HTMLSelectElement).value })}>
              {GOODS_UNITS.map((u) => <option key={u} value={u}>{u}</option>)}
            </select>
          </div>
        )}
        <Field name="item-price" label={en.catalogue.price} value={form.price} onInput={(v) => setForm({ ...form, price: v })} error={errors.price} />
        {props.branches > 1 && (
          <label class="row">
            <input type="checkbox" data-testid="item-everywhere" checked={everywhere}
              onChange={(e) => setEverywhere((e.currentTarget as HTMLInputElement).checked)} />
            {en.catalogue.everywhere(props.branches)}
          </label>
        )}
        <button type="submit" class="primary" disabled={busy}>{en.catalogue.add}</button>
      </form>
      {props.branches > 1 && <GroupCatalogueView reload={groupShown} onChanged={load} />}
    </section>
  );
}

/** The group's catalogue over the branches this admin administers: each item once, its
 * price in each branch (a dash where the branch does not offer it), with "offer in every
 * branch" (copies the item with this price) and "retire everywhere". Online only. */
function GroupCatalogueView(props: { reload: number; onChanged: () => void }) {
  const [view, setView] = useState<GroupCatalogue | null>(null);
  const { busy, error, run } = useAction();
  const show = () => run(async () => setView(await api.groupCatalogue()));
  useEffect(() => { if (props.reload > 0) show(); }, [props.reload]);
  const offerEverywhere = async (item: GroupCatalogueItem) => {
    const from = item.copies.find((c) => c.active) ?? item.copies[0];
    const ok = await run(() => api.addGroupCatalogueItem({
      id: item.id, name: from.name, sac_hsn: item.sac_hsn, treatment: item.treatment,
      gst_rate_bp: item.gst_rate_bp, unit: item.unit, price_paise: from.price_paise,
    }, null));
    if (ok) { show(); props.onChanged(); }
  };
  const retireEverywhere = async (item: GroupCatalogueItem) => {
    const ok = await run(() => api.updateGroupCatalogueItem(item.id, { base_version: null, name: null, price_paise: null, active: false }));
    if (ok) { show(); props.onChanged(); }
  };
  return (
    <section class="group-catalogue">
      <h3>{en.catalogue.groupTitle}</h3>
      <ErrorBanner error={error} />
      {!view ? (
        <button onClick={show} disabled={busy} data-testid="group-catalogue-show">{en.catalogue.groupShow}</button>
      ) : (
        <table class="grid" data-testid="group-catalogue">
          <thead>
            <tr>
              <th>{en.catalogue.name}</th><th>{en.invoice.sacHsn}</th><th>{en.invoice.rate}</th>
              {view.branches.map((b) => <th key={b.clinic_id} class="num">{b.name}</th>)}
              <th />
            </tr>
          </thead>
          <tbody>
            {view.items.map((i) => {
              const copy = (clinicId: Uuid) => i.copies.find((c) => c.clinic_id === clinicId);
              const missing = view.branches.some((b) => !copy(b.clinic_id)?.active);
              return (
                <tr key={i.id}>
                  <td>{i.copies[0].name}</td><td>{i.sac_hsn}</td>
                  <td>{i.treatment === "taxable" ? formatRate(i.gst_rate_bp) : en.invoice.treatments[i.treatment]}</td>
                  {view.branches.map((b) => {
                    const c = copy(b.clinic_id);
                    return <td key={b.clinic_id} class={c && !c.active ? "num muted" : "num"}>{c ? formatPaise(c.price_paise) : "—"}</td>;
                  })}
                  <td>
                    {missing && i.copies.some((c) => c.active) && (
                      <button class="small subtle" disabled={busy} onClick={() => offerEverywhere(i)}>{en.catalogue.offerEverywhere}</button>
                    )}
                    {i.copies.some((c) => c.active) && (
                      <button class="small subtle" disabled={busy} onClick={() => retireEverywhere(i)}>{en.catalogue.retireEverywhere}</button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** A doctor's registration number and qualifications, as this clinic records them (printed
 * with their name on prescriptions and receipts). */
function Registration(props: { member: Member; onSaved: () => void }) {
  const r = props.member.registration ?? null;
  const [editing, setEditing] = useState(false);
  const [number, setNumber] = useState(r?.number ?? "");
  const [qualifications, setQualifications] = useState(r?.qualifications ?? "");
  const { busy, error, run } = useAction();
  if (!editing) {
    return (
      <div class="small" data-testid="registration">
        {r ? en.admin.registration(r.number, r.qualifications) : <span class="muted">{en.admin.noRegistration}</span>}
        {" "}<button class="small subtle" onClick={() => setEditing(true)}>{en.common.edit}</button>
      </div>
    );
  }
  const save = async (e: Event) => {
    e.preventDefault();
    const ok = await run(() => api.setMemberRegistration(props.member.id, number, qualifications));
    if (ok) { setEditing(false); props.onSaved(); }
  };
  return (
    <form class="row" onSubmit={save}>
      <ErrorBanner error={error} />
      <Field name={`reg-${props.member.id}`} label={en.admin.registrationNumber} value={number} onInput={setNumber} />
      <Field name={`qual-${props.member.id}`} label={en.admin.qualifications} value={qualifications} onInput={setQualifications} />
      <button type="submit" disabled={busy}>{en.common.save}</button>
    </form>
  );
}
