// Form fields more than one page asks for.

/** A choice of dataset by name; `value` and `onChange` are dataset ids. */
export function DatasetSelect({
  datasets,
  value,
  onChange,
  testId,
}: {
  datasets: { id: string; name: string }[];
  value: string;
  onChange: (id: string) => void;
  testId?: string;
}) {
  return (
    <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
      {datasets.map((d) => (
        <option key={d.id} value={d.id}>
          {d.name}
        </option>
      ))}
    </select>
  );
}
