import { useRef, useState } from "react";
import type { Attribution, ConveyanceMode } from "../../protocol/index.js";
import {
  attributedAsWords,
  isConveyable,
  modeChoiceWords,
  modeWords,
  notConveyedWords,
  planConveyance,
  receiptWords,
  type EntryView,
  type Mediator,
} from "../../sdk/index.js";
import { AttachField, fileSource } from "./attach-field.js";
import { fileSize } from "./attachment-list.js";
import { focusLater } from "./focus.js";
import { useAction } from "./use-device.js";

/**
 * Convey offers only what the sender allowed: verbatim shows the exact words and cannot be edited,
 * substance opens an editor, mediator-only offers nothing. Before sending it previews what the
 * recipients will see and what the sender's receipt will say.
 */
export function ConveyPanel(props: {
  device: Mediator;
  sourceCaucusId: string;
  sourceParty: string;
  view: EntryView;
  targets: readonly { caucusId: string; partyName: string }[];
  /** The source caucus's transcript is broken: nothing is conveyed from it. */
  disabled?: boolean;
}) {
  const { device, view, sourceParty } = props;
  const body = view.body;
  const [open, setOpen] = useState(false);
  const c = view.conveyability;
  const modes = c?.conveyable ? c.modes : [];
  const [mode, setMode] = useState<ConveyanceMode | undefined>(modes[0]);
  const [paraphrase, setParaphrase] = useState("");
  const [named, setNamed] = useState(true);
  const [to, setTo] = useState<string[]>(props.targets.map((t) => t.caucusId));
  const { busy, error, run } = useAction();
  const [notice, setNotice] = useState<string>();
  const [again, setAgain] = useState(false);
  // Carry the sender's files: unset follows the sdk's default (yes for verbatim, no for substance).
  const [carry, setCarry] = useState<boolean>();
  const [ownFiles, setOwnFiles] = useState<File[]>([]);
  const opener = useRef<HTMLButtonElement>(null);
  const close = () => {
    setOpen(false);
    setAgain(false);
    focusLater(() => opener.current);
  };
  const id = `convey-${props.sourceCaucusId}-${view.entry.seq}`;
  if (!isConveyable(body) || !c) return null;
  // Without receipts the card already says why nothing can be conveyed; say it once.
  if (!c.conveyable)
    return view.receipts.length ? <p className="muted no-convey">{notConveyedWords(c)}</p> : null;
  if (!open)
    return (
      <>
        {notice && (
          <p role="status" className="pending">
            {notice}
          </p>
        )}
        <button
          type="button"
          ref={opener}
          disabled={props.disabled}
          onClick={() => {
            setOpen(true);
            focusLater(() => document.getElementById(`${id}-first`));
          }}
          aria-label={`Convey #${view.entry.seq} from ${sourceParty}`}
        >
          Convey…
        </button>
      </>
    );
  const exact = body.text ?? "Received.";
  const text = mode === "verbatim" ? exact : paraphrase.trim();
  const anonymousOnly = c.anonymousOnly;
  const attribution: Attribution = anonymousOnly || !named ? "anonymous" : "party";
  const targetNames = props.targets.filter((t) => to.includes(t.caucusId)).map((t) => t.partyName);
  // Conveying the same words to a party twice is rarely meant: it is said first, and asked again.
  const conveyedTo = new Map(view.receipts.flatMap((r) => r.receipt.toParties.map((p) => [p, r.entry.seq])));
  const repeats = targetNames.filter((n) => conveyedTo.has(n));
  // The preview shows the very bodies the sdk will send (or nothing while the input is incomplete).
  // The sender's files go on only as the sender allowed: verbatim (invariant 3).
  const sourceFiles = body.type === "signal" ? (body.attachments ?? []) : [];
  const mayCarry = sourceFiles.length > 0 && body.disclosure === "verbatim";
  const carrying = mayCarry && (carry ?? mode === "verbatim");
  const own = mode === "substance" ? ownFiles : [];
  const options = mode && {
    from: props.sourceCaucusId,
    eventId: view.entry.eventId,
    mode,
    ...(mode === "substance" ? { text } : {}),
    to,
    attribution,
    sourceFiles: carrying,
    ...(own.length ? { ownFiles: own.map(fileSource) } : {}),
  };
  const fileNames = [...(carrying ? sourceFiles : []), ...own].map((f) => `${f.name} (${fileSize(f.size)})`);
  let plan: ReturnType<typeof planConveyance> | undefined;
  try {
    plan = options ? planConveyance(options, view.entry, device.channelOf(props.sourceCaucusId)) : undefined;
  } catch {
    plan = undefined;
  }
  return (
    <form
      className="inline-form convey"
      aria-label={`Convey #${view.entry.seq} from ${sourceParty}`}
      onKeyDown={(e) => {
        if (e.key === "Escape") close();
      }}
      onSubmit={(e) => {
        e.preventDefault();
        if (!options || (repeats.length && !again)) return;
        void run(async () => {
          const result = await device.convey(options);
          close();
          setParaphrase("");
          setOwnFiles([]);
          setCarry(undefined);
          setNotice(
            result.undelivered.length
              ? `Not delivered to ${result.undelivered.map((u) => u.partyName).join(", ")} yet: it is retried automatically, and ${sourceParty}'s receipt names only where it landed.`
              : undefined,
          );
        });
      }}
    >
      <fieldset>
        <legend>How to convey it</legend>
        {modes.map((m, i) => (
          <label key={m} className="radio">
            <input
              id={i === 0 ? `${id}-first` : undefined}
              type="radio"
              name={`${id}-mode`}
              value={m}
              checked={mode === m}
              onChange={() => setMode(m)}
            />
            {modeChoiceWords[m]}
          </label>
        ))}
      </fieldset>
      {mode === "verbatim" ? (
        <>
          <label htmlFor={`${id}-exact`}>Exact words (cannot be edited)</label>
          <textarea id={`${id}-exact`} rows={3} value={exact} readOnly />
        </>
      ) : (
        <>
          <label htmlFor={`${id}-text`}>Wording the recipients will see</label>
          <textarea
            id={`${id}-text`}
            rows={3}
            value={paraphrase}
            onChange={(e) => setParaphrase(e.target.value)}
            required
          />
        </>
      )}
      {mayCarry && (
        <label className="radio">
          <input type="checkbox" checked={carrying} onChange={(e) => setCarry(e.target.checked)} />
          Pass on {sourceParty}'s {sourceFiles.length === 1 ? "file" : `${sourceFiles.length} files`} as sent
          ({sourceFiles.map((f) => f.name).join(", ")})
        </label>
      )}
      {sourceFiles.length > 0 && !mayCarry && (
        <p className="muted">
          {sourceParty} did not allow its files to be passed on verbatim: they stay with you.
        </p>
      )}
      {mode === "substance" && (
        <AttachField
          files={ownFiles}
          onChange={setOwnFiles}
          label="Attach your own files (optional)"
          disabled={busy}
        />
      )}
      <fieldset>
        <legend>To</legend>
        {props.targets.map((t) => (
          <label key={t.caucusId} className="radio">
            <input
              type="checkbox"
              checked={to.includes(t.caucusId)}
              onChange={(e) =>
                setTo(e.target.checked ? [...to, t.caucusId] : to.filter((x) => x !== t.caucusId))
              }
            />
            {t.partyName}
          </label>
        ))}
      </fieldset>
      {anonymousOnly ? (
        <p className="muted">The sender asked not to be named: it will be conveyed as from “a party”.</p>
      ) : (
        <label className="radio">
          <input type="checkbox" checked={named} onChange={(e) => setNamed(e.target.checked)} />
          Name {sourceParty} as the source
        </label>
      )}
      <div className="preview" role="group" aria-label="Preview">
        {plan ? (
          <>
            <p>
              <strong>{plan.receipt.toParties.join(", ")} will see:</strong> from{" "}
              {plan.conveyance.fromParty ?? "a party"}: “{plan.conveyance.text}”
            </p>
            <p>
              <strong>Files {plan.receipt.toParties.join(", ")} will get:</strong>{" "}
              {fileNames.length ? fileNames.join(", ") : "none"}
            </p>
            <p>
              <strong>{sourceParty}'s receipt will say:</strong> {receiptWords(plan.receipt, "party")}: “
              {plan.receipt.text}”{fileNames.length ? `, and list the files: ${fileNames.join(", ")}` : ""}
            </p>
          </>
        ) : (
          <>
            <p>
              <strong>{targetNames.join(", ") || "Nobody"} will see:</strong> from{" "}
              {attribution === "party" ? sourceParty : "a party"}: <em>(write your wording)</em>
            </p>
            <p>
              <strong>{sourceParty}'s receipt will say:</strong> Conveyed to {targetNames.join(", ") || "—"}{" "}
              {mode ? modeWords[mode] : ""}, {attributedAsWords(attribution, "party")}: …
            </p>
          </>
        )}
      </div>
      {repeats.length > 0 && (
        <div className="warning convey-again" role="group" aria-label="Conveyed before">
          <p>
            Already conveyed to {repeats.map((n) => `${n} (receipt #${conveyedTo.get(n)})`).join(", ")}:
            conveying again sends {repeats.join(", ")} a second copy.
          </p>
          <label className="radio">
            <input type="checkbox" checked={again} onChange={(e) => setAgain(e.target.checked)} />
            Yes, convey it again to {repeats.join(", ")}
          </label>
        </div>
      )}
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
      <button
        type="submit"
        disabled={busy || props.disabled || !text || !to.length || (repeats.length > 0 && !again)}
      >
        {busy ? (fileNames.length ? "Conveying with files…" : "Conveying…") : "Convey and post receipt"}
      </button>
      <button type="button" className="secondary" onClick={close}>
        Cancel
      </button>
    </form>
  );
}
