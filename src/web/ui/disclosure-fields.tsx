import type { Attribution, Disclosure } from "../../protocol/index.js";
import {
  attributionChoices,
  attributionChoiceWords,
  disclosureChoices,
  disclosureChoiceWords,
} from "../../sdk/index.js";

/** What the mediator may do with what a party says, and how to name its source: for signals and acknowledgements alike. */
export function DisclosureFields(props: {
  /** Radio group names: unique on the page. */
  name: string;
  disclosure: Disclosure;
  attribution: Attribution;
  onDisclosure: (d: Disclosure) => void;
  onAttribution: (a: Attribution) => void;
}) {
  return (
    <>
      <fieldset>
        <legend>What the mediator may do with it</legend>
        {disclosureChoices.map((d) => (
          <label key={d} className="radio">
            <input
              type="radio"
              name={`${props.name}-disclosure`}
              value={d}
              checked={props.disclosure === d}
              onChange={() => props.onDisclosure(d)}
            />
            {disclosureChoiceWords[d]}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>If conveyed, name the source as</legend>
        {attributionChoices.map((a) => (
          <label key={a} className="radio">
            <input
              type="radio"
              name={`${props.name}-attribution`}
              value={a}
              checked={props.attribution === a}
              onChange={() => props.onAttribution(a)}
            />
            {attributionChoiceWords[a]}
          </label>
        ))}
      </fieldset>
    </>
  );
}
