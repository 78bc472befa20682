# naavre-batch-ext: the R step runtime (base R only).
#
# Every generated R step script carries this file verbatim inside `local(...)`, so its functions
# live in their own environment and the user's code runs in the global environment, as in the
# notebook. It is the R twin of steps/step_runtime.py + steps/transport.py + core/split.py:
#
# - the one split rule (core/split.py): n items, m batches, k = min(n, m) contiguous batches whose
#   sizes differ by at most one, longer first, order kept, n = 0 gives one empty batch; atomic
#   vectors and lists split by element, data frames by rows; merged back in batch order with c()
#   (keeping attributes such as Date, POSIXct's tzone, factor levels) or rbind();
# - the one value transport (steps/transport.py): a value file is the line
#   "naavre-value/1 rds" (";base64" in the text form Argo parameters carry) and the value as R
#   serializes it (what saveRDS(compress = FALSE) writes), so values come back identical();
# - the run of one task instance (read inputs, run the header and the cells in the global
#   environment, write outputs, report a located failure as one JSON record).
#
# Rules for this file: base R only (a step runs on rocker/r-ver), printable ASCII, and never two
# curly braces in a row (Argo would take them for its template markers).

MAGIC <- "naavre-value/1 "
RESERVED_BATCHES <- "naavre-batches"
RESERVED_BATCH_COUNT <- "naavre-batch-count"
RESERVED_RESULT <- "naavre-result"
RESERVED_BATCH <- "naavre-batch"
RESERVED_BATCH_RESULTS <- "naavre-batch-results"
RESERVED_BATCH_LIST <- "naavre-batch-list"
PARAMETERS_DIR <- "naavre-parameters"
PRINTED_LIMIT <- 1000000L
# The byte-code JIT level the user's cells run with, or NA to leave R's JIT as it is (the notebook
# context's kernel). A step script starts the runtime with the JIT off (compiling the runtime's own
# functions cost each instance more CPU than R's start) and sets this to the level R started with.
USER_JIT <- NA_integer_

# -- the split rule ------------------------------------------------------------------------------

check_batch_count <- function(batch_count) {
  ok <- is.numeric(batch_count) && length(batch_count) == 1L && !is.na(batch_count) &&
    batch_count == round(batch_count) && !is.logical(batch_count)
  if (!ok) stop(sprintf("batch count must be an integer >= 1, got %s", brief(batch_count)))
  if (batch_count < 1) stop(sprintf("batch count must be >= 1, got %s", format(batch_count)))
  as.integer(batch_count)
}

# Half-open (start, stop) ranges of the batches, counted from 0 as in core/split.py.
batch_ranges <- function(n, batch_count) {
  m <- check_batch_count(batch_count)
  if (n < 0) stop(sprintf("item count must be >= 0, got %d", n))
  if (n == 0) return(list(c(0L, 0L)))
  k <- min(n, m)
  sizes <- n %/% k + as.integer(seq_len(k) <= n %% k)
  stops <- cumsum(sizes)
  starts <- stops - sizes
  lapply(seq_len(k), function(i) as.integer(c(starts[i], stops[i])))
}

batch_sizes <- function(n, batch_count) {
  vapply(batch_ranges(n, batch_count), function(r) r[2] - r[1], 0L)
}

# "data.frame", "list", "vector" (an atomic vector: numbers, text, factor, Date, POSIXct...),
# "NULL" (no items), or NULL when the value does not split.
splittable_kind <- function(value) {
  if (is.null(value)) return("NULL")
  if (is.data.frame(value)) return("data.frame")
  if (!is.null(dim(value))) return(NULL)
  if (is.list(value) && !is.pairlist(value)) return("list")
  if (is.atomic(value)) return("vector")
  NULL
}

item_count <- function(value) {
  if (is.data.frame(value)) nrow(value) else length(value)
}

# `[` drops the attributes of a vector without a `[` method (and the class with them): put back
# whatever the whole had, so each batch is the same kind of value as the whole.
keep_attributes <- function(part, whole) {
  for (name in setdiff(names(attributes(whole)), c("names", "dim", "dimnames", "row.names"))) {
    if (is.null(attr(part, name, exact = TRUE))) attr(part, name) <- attr(whole, name, exact = TRUE)
  }
  part
}

split_batches <- function(items, batch_count) {
  kind <- splittable_kind(items)
  if (is.null(kind)) {
    stop(sprintf(paste(
      "cannot split a value of class %s: the split variable must be an atomic vector or a",
      "list (split by element) or a data frame (split by rows)"
    ), class_name(items)))
  }
  ranges <- batch_ranges(item_count(items), batch_count)
  lapply(ranges, function(r) {
    index <- seq_len(r[2] - r[1]) + r[1]
    if (kind == "data.frame") items[index, , drop = FALSE] else keep_attributes(items[index], items)
  })
}

merge_batches <- function(parts) {
  if (length(parts) == 0L) return(list())
  kinds <- character(length(parts))
  for (i in seq_along(parts)) {
    kind <- splittable_kind(parts[[i]])
    if (is.null(kind)) {
      stop(sprintf(paste(
        "batch %d gave a value of class %s, which cannot be joined with the other batches:",
        "each batch must give an atomic vector, a list or a data frame"
      ), i - 1L, class_name(parts[[i]])))
    }
    kinds[i] <- kind
  }
  full <- which(kinds != "NULL")
  if (length(full) == 0L) return(NULL)
  first <- full[1]
  for (i in full) {
    if (kinds[i] != kinds[first]) {
      stop(sprintf(paste(
        "batch %d gave a value of class %s but batch %d gave one of class %s: every batch must",
        "give the same kind of value to be joined"
      ), first - 1L, class_name(parts[[first]]), i - 1L, class_name(parts[[i]])))
    }
  }
  parts <- unname(parts[full])
  if (length(parts) == 1L) return(parts[[1]])
  if (kinds[first] == "data.frame") return(do.call(rbind, parts))
  keep_attributes(do.call(c, parts), parts[[1]])
}

# -- the value transport -------------------------------------------------------------------------

B64 <- c(LETTERS, letters, as.character(0:9), "+", "/")

base64_encode <- function(bytes) {
  n <- length(bytes)
  if (n == 0L) return("")
  pad <- (3L - n %% 3L) %% 3L
  v <- matrix(as.integer(c(bytes, as.raw(rep(0L, pad)))), nrow = 3L)
  v <- v[1L, ] * 65536 + v[2L, ] * 256 + v[3L, ]
  chars <- B64[rbind(v %/% 262144, (v %/% 4096) %% 64, (v %/% 64) %% 64, v %% 64) + 1]
  if (pad > 0L) chars[seq(length(chars) - pad + 1L, length(chars))] <- "="
  paste(chars, collapse = "")
}

base64_decode <- function(text) {
  text <- gsub("[^A-Za-z0-9+/=]", "", text)
  chars <- strsplit(text, "", fixed = TRUE)[[1]]
  pad <- sum(chars == "=")
  values <- match(chars, B64) - 1L
  values[is.na(values)] <- 0L
  v <- matrix(values, nrow = 4L)
  v <- v[1L, ] * 262144 + v[2L, ] * 4096 + v[3L, ] * 64 + v[4L, ]
  bytes <- as.raw(as.vector(rbind(v %/% 65536, (v %/% 256) %% 256, v %% 256)))
  if (pad > 0L) bytes <- bytes[seq_len(length(bytes) - pad)]
  bytes
}

value_text <- function(value) {
  payload <- serialize(value, NULL, xdr = TRUE, version = 3L)
  paste0(MAGIC, "rds;base64\n", base64_encode(payload))
}

write_value <- function(value, path, text = FALSE) {
  con <- file(path, open = "wb")
  on.exit(close(con))
  if (text) {
    writeBin(charToRaw(value_text(value)), con)
  } else {
    writeBin(charToRaw(paste0(MAGIC, "rds\n")), con)
    serialize(value, con, xdr = TRUE, version = 3L)
  }
  invisible("rds")
}

value_from_bytes <- function(bytes, what = "a value") {
  newline <- match(as.raw(10L), bytes)
  header <- if (is.na(newline)) "" else rawToChar(bytes[seq_len(newline - 1L)])
  if (!startsWith(header, MAGIC)) {
    stop(sprintf("%s is not a naavre value file written by an R step", what))
  }
  fields <- strsplit(substring(header, nchar(MAGIC) + 1L), ";", fixed = TRUE)[[1]]
  if (fields[1] != "rds") {
    stop(sprintf("%s holds a %s value, which an R step cannot read (only rds)", what, fields[1]))
  }
  payload <- bytes[-seq_len(newline)]
  if ("base64" %in% fields[-1]) payload <- base64_decode(rawToChar(payload))
  unserialize(payload)
}

read_value <- function(path, what = path) {
  value_from_bytes(readBin(path, "raw", n = file.info(path)$size), what)
}

# Argo's fan-in gives the merger a JSON list of the results' texts: strings whose only escapes are
# the newline after the header and the slashes of base64.
json_string_list <- function(text) {
  items <- regmatches(text, gregexpr("\"(\\\\.|[^\"\\\\])*\"", text))[[1]]
  items <- substring(items, 2L, nchar(items) - 1L)
  items <- gsub("\\n", "\n", items, fixed = TRUE)
  gsub("\\/", "/", items, fixed = TRUE)
}

# -- JSON out (error records, printed output, batch lists) ---------------------------------------

json_string <- function(text) {
  text <- enc2utf8(as.character(text))
  text <- gsub("\\", "\\\\", text, fixed = TRUE)
  text <- gsub("\"", "\\\"", text, fixed = TRUE)
  text <- gsub("\n", "\\n", text, fixed = TRUE)
  text <- gsub("\r", "\\r", text, fixed = TRUE)
  text <- gsub("\t", "\\t", text, fixed = TRUE)
  if (grepl("[\001-\037]", text, useBytes = TRUE)) {
    codes <- utf8ToInt(text)
    low <- codes < 32L
    pieces <- intToUtf8(codes, multiple = TRUE)
    pieces[low] <- sprintf("\\u%04x", codes[low])
    text <- paste(pieces, collapse = "")
  }
  paste0("\"", text, "\"")
}

to_json <- function(x) {
  if (is.null(x)) return("null")
  if (is.list(x)) {
    parts <- vapply(x, to_json, "")
    if (!is.null(names(x))) {
      body <- paste0(vapply(names(x), json_string, ""), ": ", parts, collapse = ", ")
      return(paste0("{", body, "}"))
    }
    return(paste0("[", paste(parts, collapse = ", "), "]"))
  }
  if (length(x) != 1L) return(to_json(as.list(x)))
  if (is.na(x)) return("null")
  if (is.logical(x)) return(if (x) "true" else "false")
  if (is.numeric(x)) return(format(x, digits = 17L, scientific = FALSE))
  json_string(x)
}

write_json <- function(x, path) {
  con <- file(path, open = "w", encoding = "UTF-8")
  on.exit(close(con))
  writeLines(to_json(x), con, sep = "")
}

# -- running a task ------------------------------------------------------------------------------

class_name <- function(value) paste(class(value), collapse = "/")

brief <- function(value, limit = 60L) {
  text <- tryCatch(paste(deparse(value, width.cutoff = 60L), collapse = " "),
                   error = function(e) paste0("<", class_name(value), ">"))
  if (nchar(text) > limit) text <- paste0(substr(text, 1L, limit - 3L), "...")
  text
}

with_article <- function(name) {
  paste0(if (tolower(substr(name, 1L, 1L)) %in% c("a", "e", "i", "o", "u")) "an " else "a ", name)
}

failure <- function(record) {
  structure(class = c("naavre_failure", "error", "condition"),
            list(message = record$message, call = NULL, record = record))
}

fail <- function(...) stop(failure(list(...)))

env_dir <- function(name) {
  folder <- Sys.getenv(name)
  if (!nzchar(folder)) return("")
  folder
}

input_path <- function(name) {
  folder <- env_dir("NAAVRE_INPUTS_DIR")
  if (!nzchar(folder)) return(NULL)
  path <- file.path(folder, name)
  if (file.exists(path)) path else NULL
}

outputs_dir <- function() {
  folder <- env_dir("NAAVRE_OUTPUTS_DIR")
  if (!nzchar(folder)) fail(kind = "bad-input", message = "NAAVRE_OUTPUTS_DIR is not set")
  dir.create(folder, showWarnings = FALSE, recursive = TRUE)
  folder
}

text_mode <- function() identical(Sys.getenv("NAAVRE_VALUES", "binary"), "text")

cell_filename <- function(notebook, index) sprintf("<%s cell %d>", notebook, as.integer(index))

# A parameter's text (argo submit -p, naavre-batch run -p) as a value of the R type the header
# gave it: an integer stays integer (28L), a double double, TRUE/FALSE logical, text text.
coerce_parameter <- function(current, text, name) {
  plain <- is.null(oldClass(current)) && length(current) == 1L
  bad <- function(what) {
    fail(kind = "bad-parameter", variable = name,
         message = sprintf("parameter %s takes %s, like its default %s; got %s", name, what,
                           brief(current), json_string(text)),
         hint = sprintf("give %s %s", name, what))
  }
  if (plain && is.integer(current)) {
    number <- suppressWarnings(as.numeric(text))
    if (is.na(number) || number != round(number) || abs(number) > .Machine$integer.max) {
      bad("an integer")
    }
    return(as.integer(number))
  }
  if (plain && is.double(current)) {
    number <- suppressWarnings(as.numeric(text))
    if (is.na(number) && !(trimws(text) %in% c("NA", "NaN"))) bad("a number")
    return(number)
  }
  if (plain && is.logical(current)) {
    word <- tolower(trimws(text))
    if (!(word %in% c("true", "false"))) bad("TRUE or FALSE")
    return(word == "true")
  }
  if (plain && is.character(current)) return(text)
  fail(kind = "bad-parameter", variable = name,
       message = sprintf(paste(
         "parameter %s is %s, which cannot be given as text; a workflow parameter of an R",
         "notebook is one number, one string or TRUE/FALSE"), name, with_article(class_name(current))),
       hint = sprintf("assign %s a single literal in the header", name))
}

# The texts given for this run: files naavre-parameters/<name> of the inputs folder, then
# NAAVRE_PARAM_<name>; a text equal to the default's own is no override.
parameter_texts <- function(task) {
  texts <- list()
  for (name in names(task$parameters)) {
    text <- NULL
    path <- input_path(file.path(PARAMETERS_DIR, name))
    if (!is.null(path)) text <- readChar(path, file.info(path)$size, useBytes = TRUE)
    env <- Sys.getenv(paste0("NAAVRE_PARAM_", name), NA_character_)
    if (!is.na(env)) text <- env
    default <- task$parameters[[name]]$text
    if (!is.null(text) && !identical(text, default)) texts[[name]] <- enc2native(text)
  }
  texts
}

parse_cell <- function(task, step, cell) {
  filename <- cell_filename(task$notebook, cell$index)
  lines <- strsplit(cell$source, "\n", fixed = TRUE)[[1]]
  tryCatch(
    parse(text = cell$source, keep.source = TRUE, srcfile = srcfilecopy(filename, lines)),
    error = function(e) {
      text <- conditionMessage(e)
      found <- regmatches(text, regexec(":([0-9]+):([0-9]+): ", text))[[1]]
      line <- if (length(found) == 3L) as.integer(found[2]) else NULL
      summary <- sub("^[^\n]*?:[0-9]+:[0-9]+: ", "", strsplit(text, "\n", fixed = TRUE)[[1]][1])
      summary <- paste("syntax error:", summary)
      fail(kind = "cell-error", step = step, cell_index = cell$index, line = line,
           exception = summary, traceback = text,
           message = sprintf("step %s failed in cell %d%s: %s", step, as.integer(cell$index),
                             if (is.null(line)) "" else sprintf(", line %d", line), summary))
    }
  )
}

# Evaluate one top-level expression of a cell in the global environment; an error becomes a
# failure record located at the deepest line of this cell on the call stack.
eval_located <- function(expr, srcref, task, step, cell) {
  if (!is.na(USER_JIT)) {
    compiler::enableJIT(USER_JIT)
    on.exit(compiler::enableJIT(0L), add = TRUE)
  }
  filename <- cell_filename(task$notebook, cell$index)
  line <- if (is.null(srcref)) NULL else as.integer(srcref[1])
  calls <- NULL
  tryCatch(
    withCallingHandlers(
      eval(expr, envir = globalenv()),
      error = function(e) {
        stack <- sys.calls()
        # The user's frames: those below the runtime's eval() of the cell's expression, above
        # the handler's own.
        start <- Position(function(call) identical(call, OWN_EVAL), stack, right = TRUE, nomatch = 0L)
        stack <- stack[seq_along(stack) > start]
        own <- vapply(stack, function(call) {
          text <- paste(deparse(call, nlines = 1L), collapse = "")
          grepl("^(\\.handleSimpleError|h)\\(", text)
        }, TRUE)
        if (any(own)) stack <- stack[seq_len(which(own)[1] - 1L)]
        calls <<- stack
        for (call in stack) {
          ref <- attr(call, "srcref")
          if (!is.null(ref) && identical(utils::getSrcFilename(ref), filename)) line <<- as.integer(ref[1])
        }
      }
    ),
    error = function(e) {
      if (inherits(e, "naavre_failure")) stop(e)
      call <- conditionCall(e)
      if (identical(call, OWN_EVAL)) call <- NULL  # stop() at the cell's top level
      summary <- if (is.null(call)) conditionMessage(e) else
        paste0("Error in ", paste(deparse(call, nlines = 1L), collapse = ""), ": ",
               conditionMessage(e))
      if (is.null(call)) summary <- paste("Error:", summary)
      trace <- vapply(calls, function(c) paste(deparse(c, nlines = 1L), collapse = ""), "")
      where <- sprintf("cell %d%s", as.integer(cell$index),
                       if (is.null(line)) "" else sprintf(", line %d", line))
      fail(kind = "cell-error", step = step, cell_index = cell$index, line = line,
           exception = summary,
           traceback = paste0(if (length(trace)) paste0("Calls: ", paste(trace, collapse = " -> "), "\n") else "",
                              summary, "\n"),
           message = sprintf("step %s failed in %s: %s", step, where, summary))
    }
  )
}

OWN_EVAL <- quote(eval(expr, envir = globalenv()))

assigned_name <- function(expr) {
  if (is.call(expr) && length(expr) == 3L && is.name(expr[[1]]) &&
      as.character(expr[[1]]) %in% c("<-", "=", "<<-") && is.name(expr[[2]])) {
    return(as.character(expr[[2]]))
  }
  NULL
}

# The header runs expression by expression; right after one assigns a parameter that has a text
# for this run, the parameter gets that value (in its R type), as if the literal had been edited.
run_header <- function(task, texts) {
  for (cell in task$header) {
    exprs <- parse_cell(task, "header", cell)
    refs <- attr(exprs, "srcref")
    for (i in seq_along(exprs)) {
      eval_located(exprs[[i]], refs[[i]], task, "header", cell)
      name <- assigned_name(exprs[[i]])
      if (!is.null(name) && !is.null(texts[[name]])) {
        current <- get(name, envir = globalenv())
        assign(name, coerce_parameter(current, texts[[name]], name), envir = globalenv())
      }
    }
  }
}

run_cell <- function(task, step, cell) {
  exprs <- parse_cell(task, step, cell)
  refs <- attr(exprs, "srcref")
  for (i in seq_along(exprs)) eval_located(exprs[[i]], refs[[i]], task, step, cell)
}

# Run every cell of the task's steps in order; what each cell prints to stdout goes on to the log
# and is kept (sink(split = TRUE)) under the cell's index for the comparison with the notebook.
run_steps <- function(task, printed) {
  for (step in task$steps) {
    for (cell in step$cells) {
      file <- tempfile("naavre-printed-")
      con <- file(file, open = "wt", encoding = "UTF-8")
      sink(con, split = TRUE)
      depth <- sink.number()
      tryCatch(run_cell(task, step$id, cell), finally = {
        while (sink.number() >= depth) sink()
        close(con)
        size <- file.info(file)$size
        text <- if (size > 0) readChar(file, size, useBytes = TRUE) else ""
        Encoding(text) <- "UTF-8"
        if (nchar(text, type = "bytes") > PRINTED_LIMIT) {
          text <- paste0(substr(text, 1L, PRINTED_LIMIT), "\n[naavre-batch: printed output cut here]\n")
        }
        assign(as.character(cell$index), text, envir = printed)
        unlink(file)
      })
    }
  }
}

owner_of <- function(task, name) {
  owner <- task$output_steps[[name]]
  if (is.null(owner)) owner <- task$merged_steps[[name]]
  if (is.null(owner)) owner <- if (length(task$steps)) task$steps[[length(task$steps)]]$id else task$id
  owner
}

collect_outputs <- function(task, names) {
  values <- list()
  for (name in names) {
    if (!exists(name, envir = globalenv(), inherits = FALSE)) {
      owner <- owner_of(task, name)
      fail(kind = "missing-output", step = owner, variable = name,
           message = sprintf(paste("step %s should define %s (a later step reads it),",
                                   "but it is not defined after the step ran"), owner, name))
    }
    values[name] <- list(get(name, envir = globalenv(), inherits = FALSE))
  }
  values
}

check_passable <- function(value, variable, step) {
  kind <- typeof(value)
  if (kind %in% c("environment", "externalptr", "weakref", "bytecode", "promise")) {
    fail(kind = "not-passable", step = step, variable = variable, type = class_name(value),
         message = sprintf(paste("step %s: variable %s is passed to a later step but holds %s,",
                                 "which cannot be passed between steps"),
                           step, variable, with_article(class_name(value))),
         hint = sprintf("compute %s in the step that uses it, or keep only data in it", variable))
  }
}

check_text_size <- function(size, variable, step) {
  limit <- suppressWarnings(as.numeric(Sys.getenv("NAAVRE_TEXT_LIMIT", "")))
  if (!is.na(limit) && size > limit) {
    fail(kind = "value-too-large", step = step, variable = variable, size = size,
         message = sprintf(paste("step %s: variable %s is %s bytes as an Argo parameter, over the",
                                 "limit of %s bytes for values passed as parameters"),
                           step, variable, format(size, big.mark = ","), format(limit, big.mark = ",")),
         hint = paste("export with --values artifacts (values as files in the cluster's artifact",
                      "repository), or pass a path or URL instead of the data"))
  }
}

put_value <- function(folder, file_name, value, variable, step) {
  check_passable(value, variable, step)
  path <- file.path(folder, file_name)
  if (text_mode()) {
    text <- value_text(value)
    check_text_size(nchar(text, type = "bytes"), variable, step)
    writeChar(text, path, eos = NULL, useBytes = TRUE)
  } else {
    write_value(value, path)
  }
}

read_input <- function(path, what) {
  tryCatch(read_value(path, what), error = function(e) {
    fail(kind = "bad-input", message = sprintf("%s could not be read from %s: %s", what, path,
                                               conditionMessage(e)))
  })
}

read_inputs <- function(task) {
  for (item in task$inputs) {
    path <- input_path(item$name)
    if (is.null(path)) {
      fail(kind = "missing-input", variable = item$name,
           message = sprintf("input %s (from task %s) was not provided", item$name, item$task),
           hint = sprintf("put its value file at NAAVRE_INPUTS_DIR/%s (see docs/running.md)", item$name))
    }
    assign(item$name, read_input(path, paste("input", item$name)), envir = globalenv())
  }
}

batch_results <- function() {
  path <- input_path(RESERVED_BATCH_RESULTS)
  if (is.null(path)) {
    fail(kind = "bad-input", message = sprintf("the merger needs NAAVRE_INPUTS_DIR/%s",
                                               RESERVED_BATCH_RESULTS))
  }
  if (dir.exists(path)) {
    files <- sort(list.files(path))
    return(lapply(files, function(f) read_input(file.path(path, f), paste("batch result", f))))
  }
  texts <- json_string_list(readChar(path, file.info(path)$size, useBytes = TRUE))
  lapply(texts, function(t) value_from_bytes(charToRaw(t), "a batch result"))
}

batch_count_input <- function() {
  path <- input_path(RESERVED_BATCH_COUNT)
  count <- if (is.null(path)) NA else suppressWarnings(as.integer(readLines(path, warn = FALSE)[1]))
  if (is.na(count)) {
    fail(kind = "bad-input", message = sprintf("the merger needs NAAVRE_INPUTS_DIR/%s (an integer)",
                                               RESERVED_BATCH_COUNT))
  }
  count
}

merge_results <- function(task) {
  results <- batch_results()
  count <- batch_count_input()
  by_index <- list()
  for (result in results) {
    key <- as.character(result$index)
    if (!is.null(by_index[[key]])) {
      fail(kind = "bad-input", message = sprintf("batch %s was delivered twice", key))
    }
    by_index[[key]] <- result
  }
  missing <- setdiff(seq_len(count) - 1L, as.integer(names(by_index)))
  if (length(missing)) {
    fail(kind = "missing-batches", missing = as.list(missing),
         message = sprintf(paste("merger %s: batch(es) %s of %d are missing; their processor",
                                 "instances failed or did not run"),
                           task$id, paste(missing, collapse = ", "), count),
         hint = "look at the failed processor instances' logs and run the workflow again")
  }
  ordered <- by_index[as.character(seq_len(count) - 1L)]
  for (name in unlist(task$merged)) {
    parts <- lapply(ordered, function(r) r$outputs[[name]])
    merged <- tryCatch(merge_batches(parts), error = function(e) {
      step <- owner_of(task, name)
      fail(kind = "merge-failed", step = step, variable = name,
           message = sprintf("step %s: the batches' values of %s cannot be merged: %s", step, name,
                             conditionMessage(e)),
           hint = sprintf("give %s the same kind of value in every batch (a vector, list or data frame)", name))
    })
    assign(name, merged, envir = globalenv())
  }
}

resolve_count <- function(task) {
  step <- task$steps[[1]]$id
  spec <- task$batch_count
  count <- if (!is.null(spec$parameter)) get0(spec$parameter, envir = globalenv()) else spec$value
  tryCatch(check_batch_count(count), error = function(e) {
    fail(kind = "bad-batch-count", step = step, message = sprintf("splitter %s: %s", step, conditionMessage(e)),
         hint = "give the batch count as a whole number >= 1")
  })
}

batch_file_name <- function(index) sprintf("%05d", as.integer(index))

split_variable <- function(task, count) {
  name <- task$split_variable
  step <- task$steps[[1]]$id
  if (!exists(name, envir = globalenv(), inherits = FALSE)) {
    fail(kind = "missing-output", step = step, variable = name,
         message = sprintf(paste("splitter %s should define the split variable %s, but it is not",
                                 "defined after the step ran"), step, name))
  }
  items <- get(name, envir = globalenv(), inherits = FALSE)
  if (is.null(splittable_kind(items))) {
    fail(kind = "split-not-list", step = step, variable = name, type = class_name(items),
         message = sprintf(paste("splitter %s: the split variable %s must be an atomic vector, a",
                                 "list or a data frame, but it is %s"),
                           step, name, with_article(class_name(items))),
         hint = sprintf("make %s a list (for example as.list(...)) before the processors", name))
  }
  ranges <- batch_ranges(item_count(items), count)
  parts <- split_batches(items, count)
  folder <- outputs_dir()
  listing <- lapply(seq_along(ranges), function(i) {
    list(index = i - 1L, start = ranges[[i]][1], stop = ranges[[i]][2])
  })
  batches <- lapply(seq_along(ranges), function(i) c(listing[[i]], list(items = parts[[i]])))
  if (text_mode()) {
    texts <- vapply(batches, value_text, "")
    listed <- to_json(as.list(texts))
    check_text_size(nchar(listed, type = "bytes"), name, step)
    writeChar(listed, file.path(folder, RESERVED_BATCHES), eos = NULL, useBytes = TRUE)
  } else {
    batch_dir <- file.path(folder, RESERVED_BATCHES)
    dir.create(batch_dir, showWarnings = FALSE)
    for (batch in batches) put_value(batch_dir, batch_file_name(batch$index), batch, name, step)
  }
  writeChar(as.character(length(batches)), file.path(folder, RESERVED_BATCH_COUNT), eos = NULL)
  write_json(listing, file.path(folder, RESERVED_BATCH_LIST))
}

write_printed <- function(printed) {
  path <- Sys.getenv("NAAVRE_PRINTED_FILE")
  if (nzchar(path)) {
    keys <- ls(printed, all.names = TRUE)
    keys <- keys[order(as.integer(keys))]
    write_json(mget(keys, envir = printed), path)
  }
}

report_failure <- function(record) {
  path <- Sys.getenv("NAAVRE_ERROR_FILE")
  if (nzchar(path)) write_json(record, path)
  if (!is.null(record$traceback)) cat(record$traceback, file = stderr())
  cat("naavre-batch: ", record$message, "\n", sep = "", file = stderr())
  if (!is.null(record$hint)) cat("hint: ", record$hint, "\n", sep = "", file = stderr())
  1L
}

# A merger's "naavre-printed" (always) and "naavre-summary" (once it succeeded), as the Python
# runtime writes them (step_runtime.write_merger_record): Argo keeps them in the run's status.
write_merger_record <- function(task, printed, succeeded) {
  folder <- env_dir("NAAVRE_OUTPUTS_DIR")
  if (!nzchar(folder) || task$kind != "merger") return(invisible(NULL))
  dir.create(folder, showWarnings = FALSE, recursive = TRUE)
  keys <- ls(printed, all.names = TRUE)
  keys <- keys[order(as.integer(keys))]
  text <- enc2utf8(paste(unlist(mget(keys, envir = printed)), collapse = ""))
  bytes <- charToRaw(text)
  cut <- max(0, length(bytes) - 262144)
  if (cut > 0) text <- rawToChar(bytes[seq(cut + 1, length(bytes))])
  write_json(list(text = text, cutBytes = cut), file.path(folder, "naavre-printed"))
  if (succeeded) {
    rows <- lapply(unlist(task$merged), function(name) {
      value <- get0(name, envir = globalenv(), inherits = FALSE)
      list(name = name, type = class_name(value), length = length(value),
           preview = shown(value, 200L))
    })
    write_json(rows, file.path(folder, "naavre-summary"))
  }
  invisible(NULL)
}

# Run one task instance end to end; the value is the process's exit status.
execute <- function(task) {
  printed <- new.env()
  batch <- NULL
  tryCatch({
    run_header(task, parameter_texts(task))
    read_inputs(task)
    count <- if (task$kind == "splitter") resolve_count(task) else 0L
    if (task$kind == "processors") {
      path <- input_path(RESERVED_BATCH)
      batch <- if (is.null(path)) NULL else read_input(path, "the batch")
      if (!is.list(batch) || is.null(batch$index)) {
        fail(kind = "bad-input", message = sprintf(
          "NAAVRE_INPUTS_DIR/%s must hold the batch list(index, start, stop, items)", RESERVED_BATCH))
      }
      assign(task$split_variable, batch$items, envir = globalenv())
    } else if (task$kind == "merger") {
      merge_results(task)
    }
    tryCatch(run_steps(task, printed), finally = write_printed(printed))
    outputs <- collect_outputs(task, unlist(task$outputs))
    folder <- if (length(outputs) || task$kind != "step") outputs_dir() else ""
    for (name in names(outputs)) put_value(folder, name, outputs[[name]], name, owner_of(task, name))
    if (task$kind == "splitter") split_variable(task, count)
    if (task$kind == "processors") {
      merged <- collect_outputs(task, unlist(task$merged))
      for (name in names(merged)) {
        if (is.null(splittable_kind(merged[[name]]))) {
          step <- owner_of(task, name)
          fail(kind = "merge-not-list", step = step, variable = name, type = class_name(merged[[name]]),
               message = sprintf(paste(
                 "step %s: %s is read after the merge, so each batch must give an atomic vector,",
                 "a list or a data frame to concatenate, but batch %d gave %s"),
                 step, name, as.integer(batch$index), with_article(class_name(merged[[name]]))),
               hint = sprintf("make %s a vector or list per batch, or read it only inside the processors", name))
        }
      }
      put_value(outputs_dir(), RESERVED_RESULT, list(index = batch$index, outputs = merged),
                paste(names(merged), collapse = ", "), task$steps[[length(task$steps)]]$id)
    }
    write_merger_record(task, printed, TRUE)
    0L
  }, naavre_failure = function(f) {
    write_merger_record(task, printed, FALSE)
    record <- f$record
    if (!is.null(batch)) record$batch <- list(index = batch$index, start = batch$start, stop = batch$stop)
    report_failure(record)
  })
}

# -- the notebook context (run in the IRkernel kernel by engines/runner.py) -----------------------

# After a step's last cell: each output as a value file, as a step script writes it, and an index
# an index naming each output and its codec "rds" (or the reason it cannot be passed).
trace_values <- function(names, folder) {
  index <- list()
  for (name in names) {
    if (!exists(name, envir = globalenv(), inherits = FALSE)) {
      index[[name]] <- list(defined = FALSE)
      next
    }
    value <- get(name, envir = globalenv(), inherits = FALSE)
    index[[name]] <- tryCatch({
      put_value(folder, name, value, name, "notebook")
      list(defined = TRUE, codec = "rds")
    }, naavre_failure = function(f) {
      list(defined = TRUE, error = f$record$message, type = class_name(value))
    })
  }
  write_json(index, file.path(folder, "index.json"))
  invisible(NULL)
}

# A header cell with parameter overrides, run as the step scripts run it (see run_header).
run_header_cell <- function(notebook, index, source, texts) {
  task <- list(notebook = notebook, header = list(list(index = index, source = source)))
  tryCatch(run_header(task, texts), naavre_failure = function(f) {
    stop(paste0(f$record$exception, "\n", f$record$message), call. = FALSE)
  })
  invisible(NULL)
}

# -- tools the Python side calls (one Rscript process per call) ----------------------------------

# The first place two values differ, in R syntax (x$a[[2]], df$col[3], attr(x, "levels")), or
# NULL when identical() finds them the same (bitwise doubles: -0 is not 0; NA is not NaN).
first_difference <- function(a, b, path) {
  if (identical(a, b, num.eq = FALSE)) return(NULL)
  if (!identical(class(a), class(b)) || !identical(typeof(a), typeof(b))) {
    return(list(path = path, a = a, b = b))
  }
  if (is.data.frame(a)) {
    if (!identical(names(a), names(b))) return(list(path = paste0("names(", path, ")"), a = names(a), b = names(b)))
    if (!identical(dim(a), dim(b))) return(list(path = paste0("dim(", path, ")"), a = dim(a), b = dim(b)))
    if (!identical(attr(a, "row.names"), attr(b, "row.names"))) {
      return(list(path = paste0("row.names(", path, ")"), a = row.names(a), b = row.names(b)))
    }
    for (name in names(a)) {
      found <- first_difference(a[[name]], b[[name]], paste0(path, "$", name))
      if (!is.null(found)) return(found)
    }
  }
  for (name in union(names(attributes(a)), names(attributes(b)))) {
    if (name %in% c("names", "row.names") && is.data.frame(a)) next
    if (!identical(attr(a, name, exact = TRUE), attr(b, name, exact = TRUE), num.eq = FALSE)) {
      return(list(path = sprintf("attr(%s, \"%s\")", path, name),
                  a = attr(a, name, exact = TRUE), b = attr(b, name, exact = TRUE)))
    }
  }
  if (length(a) != length(b)) return(list(path = paste0("length(", path, ")"), a = length(a), b = length(b)))
  if (is.list(a)) {
    for (i in seq_along(a)) {
      key <- if (!is.null(names(a)) && nzchar(names(a)[i]) && make.names(names(a)[i]) == names(a)[i]) {
        paste0(path, "$", names(a)[i])
      } else {
        sprintf("%s[[%d]]", path, i)
      }
      found <- first_difference(a[[i]], b[[i]], key)
      if (!is.null(found)) return(found)
    }
  } else if (is.atomic(a)) {
    ua <- unclass(a)
    ub <- unclass(b)
    for (i in seq_along(ua)) {
      if (!identical(ua[i], ub[i], num.eq = FALSE)) return(list(path = sprintf("%s[%d]", path, i), a = a[i], b = b[i]))
    }
  }
  list(path = path, a = a, b = b)
}

# One line a person reads: the value as R code (1L, NA_real_, -0, factor(...)), cut short.
shown <- function(value, limit = 80L) {
  text <- if (is.double(value) && is.null(attributes(value)) && length(value) == 1L && !is.na(value)) {
    sprintf("%.17g", value)
  } else if (is.double(value) && is.null(attributes(value)) && length(value) == 1L) {
    if (is.nan(value)) "NaN" else "NA_real_"
  } else {
    tryCatch(paste(deparse(value, width.cutoff = 500L, nlines = 3L), collapse = " "),
             error = function(e) paste0("<", class_name(value), ">"))
  }
  text <- gsub("[\t\n\r]", " ", text)
  if (nchar(text) > limit) text <- paste0(substr(text, 1L, limit - 3L), "...")
  text
}

plural <- function(n, word) sprintf("%d %s%s", as.integer(n), word, if (n == 1) "" else "s")

summary_line <- function(value) {
  if (is.data.frame(value)) {
    columns <- vapply(names(value), function(n) paste(n, class(value[[n]])[1]), "")
    more <- if (length(columns) > 6L) ", ..." else ""
    return(sprintf("data.frame, %s x %s (%s%s)", plural(nrow(value), "row"), plural(ncol(value), "column"),
                   paste(utils::head(columns, 6L), collapse = ", "), more))
  }
  if (is.null(value)) return("NULL")
  if (is.factor(value)) return(sprintf("factor, %s, %s", plural(length(value), "item"), plural(nlevels(value), "level")))
  if (is.list(value)) return(sprintf("list, %s", plural(length(value), "item")))
  if (is.atomic(value)) {
    tz <- attr(value, "tzone")
    extra <- if (is.null(tz)) "" else sprintf(", tz %s", paste(tz, collapse = ""))
    return(sprintf("%s %s, %s%s", class(value)[1], if (is.null(dim(value))) "vector" else "array",
                   plural(length(value), "item"), extra))
  }
  class_name(value)
}

describe_value <- function(value) {
  preview <- tryCatch(paste(utils::capture.output(utils::str(value, vec.len = 3L, list.len = 6L)),
                            collapse = " | "), error = function(e) "")
  preview <- gsub("[\t\n\r]", " ", preview)
  if (nchar(preview) > 200L) preview <- paste0(substr(preview, 1L, 197L), "...")
  c(paste("R", class_name(value)), summary_line(value), preview)
}

field <- function(text) gsub("[\t\n\r]", " ", text)

# Requests, one a line, tab-separated: "value ID PATH", "merge ID FIELD,FIELD ID,ID,...",
# "compare ID ID", "describe ID". Answers, one a line: "compare ID ID same|different PATH A B",
# "describe ID TYPE SUMMARY PREVIEW".
tool <- function(requests_path, answers_path) {
  values <- list()
  out <- character(0)
  for (line in readLines(requests_path, warn = FALSE, encoding = "UTF-8")) {
    f <- strsplit(line, "\t", fixed = TRUE)[[1]]
    if (f[1] == "value") {
      values[f[2]] <- list(read_value(f[3]))
    } else if (f[1] == "merge") {
      keys <- strsplit(f[3], ",", fixed = TRUE)[[1]]
      parts <- lapply(strsplit(f[4], ",", fixed = TRUE)[[1]], function(id) {
        part <- values[[id]]
        for (key in keys) part <- part[[key]]
        part
      })
      values[f[2]] <- list(tryCatch(merge_batches(parts), error = function(e) {
        structure(conditionMessage(e), class = "naavre_merge_error")
      }))
    } else if (f[1] == "compare") {
      found <- first_difference(values[[f[2]]], values[[f[3]]], "")
      out <- c(out, if (is.null(found)) paste("compare", f[2], f[3], "same", sep = "\t") else
        paste("compare", f[2], f[3], "different", field(found$path), field(shown(found$a)),
              field(shown(found$b)), sep = "\t"))
    } else if (f[1] == "describe") {
      out <- c(out, paste(c("describe", f[2], field(describe_value(values[[f[2]]]))), collapse = "\t"))
    }
  }
  con <- file(answers_path, open = "w", encoding = "UTF-8")
  writeLines(enc2utf8(out), con)
  close(con)
}
