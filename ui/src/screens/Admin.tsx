// Clinic admins: members and roles, and the audit trail ("who viewed this patient").
// Both are online-only: they are read from the server through the Rust core.

import { useEffect, useState } from "preact/hooks";
import { api, readableError } from "../lib/ipc";
import { formatDate, formatDateTime, parseDate, startOfDay, addDays } from "../lib/dates";
import type { AuditAction, AuditEntry, AuditQuery, ClinicView, Invitation, Member, MemberDevice, Role } from "../lib/types";
import { en } from "../strings/en";
import { shortId } from "../lib/ids";
import { ErrorBanner, Field, Notice, Select, useAction } from "../components/common";
import { useConfirm } from "../components/ConfirmDialog";

const ROLES: Role[] = ["admin", "doctor", "nurse", "front_desk"];
const ACTIONS: AuditAction[] = ["read", "list", "create", "update", "delete", "export", "print", "login", "denied", "discard", "wipe"];

export function AdminScreen(props: { clinic: ClinicView }) {
  const [tab, setTab] = useState<"members" | "audit">("members");
  return (
    <div>
      <nav class="subtabs">
        <button class={tab === "members" ? "tab active" : "tab"} onClick={() => setTab("members")}>{en.nav.members}</button>
        <button class={tab === "audit" ? "tab active" : "tab"} onClick={() => setTab("audit")}>{en.nav.audit}</button>
      </nav>
      {tab === "members" ? <Members clinic={props.clinic} /> : <Audit />}
    </div>
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
  const load = () => run(async () => {
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
  });
  useEffect(() => { load(); }, []);
  const roleOptions = ROLES.map((r) => [r, en.roles[r]] as [Role, string]);
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
              <td>{m.user.display_name} <span class="muted">{m.user.email}</span></td>
              <td>
                {m.revoked_at ? en.admin.revoked : (
                  <select value={m.role} onChange={(e) => {
                    const select = e.currentTarget as HTMLSelectElement;
                    const role = select.value as Role;
                    // Shown unchanged until confirmed.
                    select.value = m.role;
                    confirm.ask({
                      title: en.admin.roleTitle(m.user.display_name, en.roles[role]), body: en.admin.roleBody, confirmLabel: en.admin.change,
                      action: () => run(async () => { await api.setMemberRole(m.id, role); await load(); }),
                    });
                  }}>
                    {ROLES.map((r) => <option key={r} value={r}>{en.roles[r]}</option>)}
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
                action: () => run(async () => { await api.revokeMember(m.id); await load(); }),
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
                <td><button class="small subtle" onClick={() => run(async () => { await api.withdrawInvitation(i.id); await load(); })}>{en.admin.withdraw}</button></td>
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
          await load();
        });
      }}>
        <Field name="member-email" label={en.admin.email} value={email} onInput={setEmail} type="email" />
        <Select name="member-role" label={en.admin.role} value={role} options={roleOptions} onChange={setRole} />
        <button type="submit" class="primary" disabled={busy}>{en.admin.addMember}</button>
      </form>
    </section>
  );
}

function Audit() {
  const [patient, setPatient] = useState("");
  const [user, setUser] = useState("");
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
    api.listMembers().then((ms) => setNames(new Map(ms.map((m) => [m.user.id, m.user.display_name]))), () => {});
  }, []);
  const who = (id: string | null) => (id ? names.get(id) ?? shortId(id) : "—");

  const query = (offset: number): AuditQuery | null => {
    const f = from ? parseDate(from) : null;
    const t = to ? parseDate(to) : null;
    if ((from && !f) || (to && !t)) { setFormError(en.validation.date); return null; }
    setFormError(null);
    return {
      patient_id: patient.trim() || null, user_id: user.trim() || null, action: action || null,
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
        <Field name="audit-patient" label={en.admin.filterPatient} value={patient} onInput={setPatient} />
        <Field name="audit-user" label={en.admin.filterUser} value={user} onInput={setUser} />
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
