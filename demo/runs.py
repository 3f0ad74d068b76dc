"""A run's life after its Submit, as its runner reports it: the server that starts it, progress with
task rows, a detail row per file (successes, warnings, errors, duplicates, updates, cancels), and
its end as its fate has it: a success, warnings, errors, a fatal error, a stop, a delete, or
still New, Running or Stopping when the day ends.

The runner knows the run by the handle the ledger returned for its Submit; how the run ends
(its outcome, counters, follow-on publish) is for the ledger to work out from these reports.
"""

from __future__ import annotations

from typing import Any

from jobledger.domain.commands import (
    Command,
    Complete,
    Delete,
    JobCommand,
    LogDetail,
    RequestStop,
    Start,
    UpdateProgress,
)
from jobledger.domain.constants import TaskState
from jobledger.domain.events import JobLogDetailAux, TaskItemProgress, TaskProgress
from jobledger.domain.payloads import OPENING_LOG_TYPES, job_type

from .catalogue import (
    DAY_MS,
    ERRORS,
    FATALS,
    OPERATORS,
    SERVERS,
    STOP_REASONS,
    TAIL_MS,
    WARNINGS,
    Asset,
    Clock,
    Company,
    Dice,
)
from .kinds import KINDS, NEW_ASSET_KINDS, UPLOAD_KINDS

Steps = list[tuple[int, Command]]  # commands with their times, in ms into the day


class Lifecycles:
    """Draws the lives of runs from dice of its own."""

    def __init__(self, rng: Dice, clock: Clock) -> None:
        self.rng = rng
        self.clock = clock

    def commands(
        self,
        handle: str,
        kind: str,
        items: list[Asset],
        t0: int,
        *,
        fate: str,
        company: Company,
        email: str,
        overwrite: bool | None = None,
        number: int = 0,
    ) -> Steps:
        """The commands of the life of run `handle`, submitted at t0, up to the end of the day.

        `email` is its submitter's, `number` names its export package (if it makes one).
        """
        run = Run(self.rng, self.clock, handle, kind, items, t0, overwrite)
        self.drive(run, company, email, fate, number)
        return [step for step in run.steps if step[0] <= DAY_MS]

    def drive(self, run: Run, company: Company, email: str, fate: str, number: int) -> None:
        rng = self.rng
        if fate == "live-new":
            return
        if fate == "stopped-new":
            run.wait(5_000, 600_000)
            operator = company.email(rng.pick(OPERATORS))
            run.add(RequestStop, requested_by=operator, reason=rng.pick(STOP_REASONS))
            return
        run.start()
        total = len(run.items)
        unit = run.spec.unit
        # How far the run gets before it ends, is stopped or fails.
        reach = total
        if fate in ("stopped", "fatal", "deleted-live", "live-running", "live-stopping"):
            reach = rng.between(0, total - 1)
        if fate in ("live-running", "live-stopping") and DAY_MS - run.t < TAIL_MS:
            # Still at work when the day ends: the items done so far take it up to about now.
            run.pace = (DAY_MS - run.t) // (reach + 2)
        results = self.results(run.kind, fate, total, run.overwrite)
        progress_at = set(rng.sample(range(1, total + 1), rng.between(1, 2)))
        for index in range(reach):
            run.item(index, results[index])
            if index + 1 in progress_at:
                run.progress(index + 1)
        if fate == "live-running":
            return
        if fate in ("stopped", "live-stopping"):
            operator = company.email(rng.pick(OPERATORS))
            run.wait(2_000, 60_000)
            run.add(RequestStop, requested_by=operator, reason=rng.pick(STOP_REASONS))
            for index in range(reach, min(total, reach + rng.between(1, 2))):
                run.cancel(index)
            if fate == "stopped":
                run.progress(reach, state="Stopping")
                run.end()
                run.complete(f"Stopped on request after {reach} of {total} {unit}")
            return
        if fate == "fatal":
            message = rng.pick(FATALS)
            if rng.chance(0.5):
                run.progress(reach, state="Failed")
            row = rng.chance(0.8)
            if row:
                run.wait(100, 5_000)
                run.log("FatalError", message)
            run.complete(message, fatal=not row or rng.chance(0.5))
            return
        if fate == "deleted-live":
            run.wait(10_000, 600_000)
            run.add(Delete, requested_by=company.email(rng.pick(OPERATORS)))
            return
        if total not in progress_at:
            run.progress(total)
        if run.kind == "exportJob":
            run.wait(200, 3_000)
            package = Asset(f"export-{number + 1}.zip", "Zip", "")
            run.log("ReturnSuccess", f"Export package ready: {package.name} ({total} assets)", package)
        run.end()
        run.complete(self.summary(results, unit))
        if fate == "deleted":
            run.wait(60_000, 3_600_000)
            run.add(Delete, requested_by=email)

    def results(self, kind: str, fate: str, total: int, overwrite: bool | None) -> list[str]:
        """What happens to each item: ok, warn, error, duplicate or updated."""
        rng = self.rng
        results = ["ok"] * total
        if kind in UPLOAD_KINDS and overwrite is not None:
            for index in range(total):
                if rng.chance(0.12):
                    results[index] = "updated" if overwrite else "duplicate"
        if fate == "errors":
            for index in rng.sample(range(total), rng.between(1, min(2, total))):
                results[index] = "error"
        if (fate == "warnings" or (fate == "errors" and rng.chance(0.4))) and KINDS[kind].warning:
            candidates = [i for i, r in enumerate(results) if r != "error"] or [0]
            for index in rng.sample(candidates, min(len(candidates), rng.between(1, 2))):
                results[index] = "warn"
        return results

    @staticmethod
    def summary(results: list[str], unit: str) -> str:
        """The runner's own closing message: what it did with the items."""
        counts = {r: results.count(r) for r in ("ok", "warn", "error", "duplicate", "updated")}
        parts = [f"{len(results)} {unit}"]
        for key, label in (
            ("error", "errors"),
            ("warn", "warnings"),
            ("duplicate", "duplicates skipped"),
            ("updated", "updated"),
        ):
            if counts[key]:
                parts.append(f"{counts[key]} {label}")
        return "Completed: " + ", ".join(parts)


class Run:
    """Builds the timed commands of one run, as its runner sends them."""

    def __init__(
        self,
        rng: Dice,
        clock: Clock,
        handle: str,
        kind: str,
        items: list[Asset],
        t0: int,
        overwrite: bool | None,
    ) -> None:
        self.rng = rng
        self.random = rng.random
        self.at = clock.at
        self.steps: Steps = []
        self.handle = handle
        self.kind = kind
        self.spec = KINDS[kind]
        self.items = items
        self.t = t0
        self.overwrite = overwrite
        self.pace: int | None = None
        self.begin = OPENING_LOG_TYPES[job_type(kind)]
        self.op = self.begin.removeprefix("Begin")

    def wait(self, low: int, high: int) -> None:
        self.t += low + int(self.random() * (high - low + 1))

    def add(self, cls: type[JobCommand], **fields: Any) -> None:
        """Append a command on this run at the current time."""
        self.steps.append((self.t, cls(at=self.at(self.t), handle=self.handle, **fields)))

    def log(
        self,
        log_type: str,
        message: str,
        asset: Asset | None = None,
        asset_handle: str | None = None,
        aux: list[JobLogDetailAux] | None = None,
    ) -> None:
        """Append a detail row at the current time (the commonest command, so built directly)."""
        t = self.t
        self.steps.append(
            (
                t,
                LogDetail(
                    at=self.at(t),
                    handle=self.handle,
                    log_type=log_type,
                    message=message,
                    asset_name=None if asset is None else asset.name,
                    asset_type=None if asset is None else asset.type,
                    asset_handle=asset_handle,
                    aux=aux or [],
                ),
            )
        )

    def start(self) -> None:
        rng = self.rng
        # Most runs find a free server within seconds; some queue for minutes.
        self.t += int(rng.expovariate(1 / 15_000)) + 300
        server = rng.pick(SERVERS)
        self.add(Start, server=server, total_size=len(self.items))
        self.wait(50, 800)
        self.log(self.begin, f"{self.op} started on {server}")
        if self.kind in UPLOAD_KINDS and rng.chance(0.6):
            self.wait(5, 50)
            self.log("TotalFileCount", f"{len(self.items)} files")

    def item(self, index: int, result: str) -> None:
        rng = self.rng
        asset = self.items[index]
        upload = self.kind in UPLOAD_KINDS
        if upload and rng.chance(0.2):
            self.log("FileBegin", f"Processing {asset.name}", asset)
        low, high = self.spec.step_ms if self.pace is None else (self.pace * 7 // 10, self.pace)
        if self.kind == "videoPublishJob" and rng.chance(0.4):
            self.wait(low // 2, high // 2)
            self.log("FileProgress", f"Transcoding {asset.name}: 50%", asset, asset.handle)
        self.wait(low, high)
        log_type, message, handle = self.row(asset, result)
        aux = None
        if result in ("warn", "error") and rng.chance(0.3):
            aux_type = "UploadWarning" if result == "warn" else "UploadError"
            detail = rng.pick(WARNINGS if result == "warn" else ERRORS)
            aux = [JobLogDetailAux(logMessage=detail, logType=aux_type, dateCreated=self.at(self.t))]
        self.log(log_type, message, asset, handle, aux)
        if upload and rng.chance(0.1):
            self.wait(5, 200)
            self.log("FleEnd", f"Done with {asset.name}", asset)

    def row(self, asset: Asset, result: str) -> tuple[str, str, str | None]:
        """(logType, message, assetHandle) of an item's result row."""
        rng = self.rng
        op = "PdfRip" if self.kind == "reprocessAssetsJob" and asset.type == "Pdf" else self.op
        if self.kind in NEW_ASSET_KINDS:
            op = "Upload"
        if self.kind == "uploadUrlsJob" and result in ("ok", "error"):
            op = "UploadUrls"
        if result == "ok":
            log_type = f"{op}Success"
            if log_type == "VideoPublishSuccess" and rng.chance(0.05):
                log_type = "VideoPubilshSuccess"  # IPS's own spelling, as its servers write it
            return log_type, self.spec.verb.format(name=asset.name), asset.handle
        if result == "warn":
            warning = self.spec.warning
            assert warning is not None
            return warning, f"{asset.name}: {rng.pick(WARNINGS)}", asset.handle
        if result == "error":
            # A failed upload never became an asset, so it has no handle yet.
            handle = None if self.kind in NEW_ASSET_KINDS else asset.handle
            return f"{op}Error", f"{asset.name}: {rng.pick(ERRORS)}", handle
        if result == "duplicate":
            return "DuplicateSkipped", f"Skipped {asset.name}: an asset with this name exists", asset.handle
        return "FileUpdated", f"Replaced {asset.name} (overwrite)", asset.handle

    def cancel(self, index: int) -> None:
        asset = self.items[index]
        self.wait(200, 5_000)
        self.log("FileCancel", f"Cancelled {asset.name}: job stopped", asset)

    def progress(self, done: int, *, state: TaskState | None = None) -> None:
        total = len(self.items)
        unit = self.spec.unit
        task_state: TaskState = state or ("Done" if done == total else "Processing")
        processing = 0 if task_state != "Processing" else min(1, total - done)
        self.wait(5, 100)
        at = self.at(self.t)
        items = [
            TaskItemProgress(itemName=a.name, progress=1.0, progressMessage="done", lastProgressUpdate=at)
            for a in self.items[max(0, done - 2) : done]
        ]
        if processing:
            items.append(
                TaskItemProgress(
                    itemName=self.items[done].name,
                    progress=round(self.rng.random(), 2),
                    progressMessage="in progress",
                    lastProgressUpdate=at,
                )
            )
        tasks = [
            TaskProgress(
                taskType=self.spec.task,
                taskState=task_state,
                numProcessed=done,
                numProcessing=processing,
                numPending=total - done - processing,
                progress=round(done / total, 3),
                progressMessage=f"{done} of {total} {unit}",
                lastProgressUpdate=at,
                taskItemProgressArray=items,
            )
        ]
        if self.kind == "videoPublishJob":
            tasks.append(
                TaskProgress(
                    taskType="VideoPublish",
                    taskState=task_state,
                    numProcessed=done,
                    numPending=total - done,
                    progress=round(done / total, 3),
                    progressMessage=f"{done} of {total} renditions published",
                    lastProgressUpdate=at,
                )
            )
        message = f"Processed {done} of {total} {unit}"
        if state == "Stopping":
            message = f"Stopping after {done} of {total} {unit}"
        elif state == "Failed":
            message = f"Failed after {done} of {total} {unit}"
        self.add(UpdateProgress, percent=done * 100 // total, message=message, tasks=tasks)

    def end(self) -> None:
        self.wait(50, 1_000)
        end = "endReoptimize" if self.op == "Reoptimize" and self.rng.chance(0.1) else f"End{self.op}"
        self.log(end, f"{self.op} finished")

    def complete(self, message: str, *, fatal: bool = False) -> None:
        self.wait(50, 2_000)
        self.add(Complete, fatal=fatal, message=message)
