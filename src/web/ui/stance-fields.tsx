import { stanceTerms, type Stance, type StanceTerm } from "../../protocol/index.js";

const labels: Record<StanceTerm, string> = {
  commitment: "Commitment",
  coordination: "Coordination",
  obligation: "Obligation",
  guarantees: "Guarantees",
  timeline: "Timeline",
  monitoring: "Monitoring / enforcement",
};

/** Six terms, each "none" unless the sender writes what is offered. */
export function StanceFields(props: { value: Stance; onChange: (s: Stance) => void; idPrefix: string }) {
  return (
    <fieldset className="stance-fields">
      <legend>Stance (non-binding unless you say otherwise)</legend>
      {stanceTerms.map((term) => (
        <label key={term} htmlFor={`${props.idPrefix}-${term}`}>
          <span>{labels[term]}</span>
          <input
            id={`${props.idPrefix}-${term}`}
            value={props.value[term]}
            onChange={(e) => props.onChange({ ...props.value, [term]: e.target.value })}
            onBlur={(e) => {
              if (!e.target.value.trim()) props.onChange({ ...props.value, [term]: "none" });
            }}
          />
        </label>
      ))}
    </fieldset>
  );
}

export function cleanStance(s: Stance): Stance {
  const out = { ...s };
  for (const t of stanceTerms) out[t] = out[t].trim() || "none";
  return out;
}
