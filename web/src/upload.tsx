// Upload a dataset archive (.zip, .tar, .tar.gz: the CSV, its images, an optional schema) from the
// browser, with the server's progress as it checks, unpacks, validates and stores it.
import { useState } from 'react';
import { ApiError, request, useSubscription } from './api.js';
import { ImportProgressLiveDocument, type ImportProgressLiveSubscription, UploadDatasetFormDocument } from './generated.js';

type Progress = ImportProgressLiveSubscription['importProgress'];

/** Follows one upload's progress while it is mounted. */
function ProgressLine({ id, onProgress }: { id: string; onProgress: (progress: Progress) => void }) {
  useSubscription(ImportProgressLiveDocument, { id }, (data) => onProgress(data.importProgress));
  return null;
}

export function UploadDatasetForm({ onUploaded }: { onUploaded: () => void }) {
  const [file, setFile] = useState<File>();
  const [name, setName] = useState('');
  const [validation, setValidation] = useState('0.15');
  const [test, setTest] = useState('0.15');
  const [progressId, setProgressId] = useState<string>();
  const [progress, setProgress] = useState<Progress>();
  const [message, setMessage] = useState('');
  const [failed, setFailed] = useState(false);

  const submit = async () => {
    if (!file) return;
    const id = crypto.randomUUID();
    setProgressId(id);
    setProgress(undefined);
    setFailed(false);
    setMessage('uploading…');
    // A moment for the progress subscription to open before the upload starts (progress is best effort).
    await new Promise((resolve) => setTimeout(resolve, 300));
    try {
      const { uploadDataset } = await request(UploadDatasetFormDocument, {
        archive: file,
        input: { name: name.trim() || undefined, validationFraction: Number(validation), testFraction: Number(test), progressId: id },
      });
      const { dataset } = uploadDataset;
      setMessage(
        uploadDataset.created
          ? `imported dataset ${dataset.id} "${dataset.name}" version ${dataset.version}: ${uploadDataset.itemCount} items`
          : `already imported as dataset ${dataset.id} "${dataset.name}" version ${dataset.version}; nothing new stored`,
      );
      onUploaded();
    } catch (error) {
      setFailed(true);
      setMessage(error instanceof ApiError ? error.message : String(error));
    } finally {
      setProgressId(undefined);
    }
  };

  return (
    <form
      className="card"
      data-testid="upload-dataset"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h2>Upload a dataset</h2>
      <p className="muted">
        One archive (.zip, .tar or .tar.gz) holding the CSV, its images (images/ beside the CSV) and optionally &lt;csv stem&gt;.schema.json. The server checks
        everything before it stores anything. Needs a trainer token; from a terminal, <code>fashion-how upload FOLDER</code> packs a folder for you.
      </p>
      <label>
        archive <input type="file" accept=".zip,.tar,.gz,.tgz" onChange={(e) => setFile(e.target.files?.[0])} />
      </label>{' '}
      <label>
        name <input value={name} onChange={(e) => setName(e.target.value)} placeholder="default: the CSV's name" />
      </label>{' '}
      <label>
        validation share <input value={validation} onChange={(e) => setValidation(e.target.value)} size={5} />
      </label>{' '}
      <label>
        test share <input value={test} onChange={(e) => setTest(e.target.value)} size={5} />
      </label>{' '}
      <button type="submit" disabled={!file || progressId !== undefined}>
        Upload
      </button>
      {progressId && <ProgressLine id={progressId} onProgress={setProgress} />}
      {progress && progressId && (
        <p data-testid="upload-progress" className="muted">
          {progress.phase.toLowerCase()} {progress.total > 0 ? `${progress.done}/${progress.total}` : progress.done > 0 ? progress.done : ''}
        </p>
      )}
      {message && (
        <p data-testid="upload-message" className={failed ? 'error' : undefined}>
          {message}
        </p>
      )}
    </form>
  );
}
