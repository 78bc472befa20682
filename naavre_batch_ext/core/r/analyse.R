# The R half of naavre_batch_ext.core.r_analysis: read every code cell of an R notebook with R's own
# parser and report, per cell, what it reads, binds and changes, in evaluation order.
#
# One Rscript process per analysis. Input on stdin: an R expression `c("<cell source>", ...)` (the
# Python side writes the sources as string literals). Output on stdout: one JSON object, a list
# `cells` in the same order. Base R and codetools (which ships with R) only: jsonlite would load
# the methods package, which takes longer than the analysis of a large notebook.
#
# Locations: the walk goes over language objects (what R evaluates); each name is located at the
# first not yet used token with its text in the statement's getParseData() tokens, so that
# `x <- f(x)` reads the x at column 8 and binds the one at column 1.

suppressWarnings(suppressPackageStartupMessages(library(codetools)))

# -- JSON out (the few shapes this script writes) -------------------------------------------------

json_string <- function(s) {
  s <- enc2utf8(as.character(s))
  s <- gsub("\\", "\\\\", s, fixed = TRUE)
  s <- gsub("\"", "\\\"", s, fixed = TRUE)
  s <- gsub("\n", "\\n", s, fixed = TRUE)
  s <- gsub("\r", "\\r", s, fixed = TRUE)
  s <- gsub("\t", "\\t", s, fixed = TRUE)
  s <- gsub("[[:cntrl:]]", "", s)
  paste0("\"", s, "\"")
}

to_json <- function(x) {
  if (is.null(x)) return("null")
  if (is.list(x)) {
    parts <- vapply(x, to_json, "")
    if (!is.null(names(x))) {
      return(paste0("{", paste0(json_string(names(x)), ":", parts, collapse = ","), "}"))
    }
    return(paste0("[", paste(parts, collapse = ","), "]"))
  }
  if (is.logical(x)) return(if (isTRUE(x)) "true" else "false")
  if (is.numeric(x)) return(as.character(x))
  json_string(x)
}

# -- what R means by its names ------------------------------------------------------------------

ASSIGN <- c("<-", "=", "<<-")
PACKAGE_LOADERS <- c("library", "require", "requireNamespace", "loadNamespace", "attachNamespace")
QUOTING <- c("quote", "bquote", "expression", "substitute", "alist", "rm", "remove", "exists",
             "missing", "on.exit")
# Functions whose arguments after the first are evaluated inside the data (non-standard
# evaluation): a name there is usually a column. Their names become "soft" uses: inputs only when
# an earlier step provides a variable of that name.
NSE <- c("subset", "transform", "with", "within", "aggregate", "xtabs", "ftable", "lm", "glm",
         "aov", "nls", "model.frame",
         # dplyr / tidyr / ggplot2 / data.table verbs and helpers
         "filter", "select", "mutate", "transmute", "summarise", "summarize", "arrange",
         "group_by", "ungroup", "rename", "relocate", "distinct", "count", "tally", "pull",
         "slice", "slice_head", "slice_tail", "slice_min", "slice_max", "slice_sample",
         "across", "if_any", "if_all", "c_across", "where", "desc", "n", "case_when",
         "pivot_longer", "pivot_wider", "separate", "unite", "drop_na", "fill", "replace_na",
         "nest", "unnest", "complete", "expand", "aes", "aes_string", "vars", "facet_wrap",
         "facet_grid", "rowwise", "reframe", "add_count", "add_tally", "left_join", "right_join",
         "inner_join", "full_join", "semi_join", "anti_join", "join_by")
PIPES <- c("%>%", "%<>%", "%T>%", "%$%")
SHELL <- c("system", "system2", "shell")
CONSTRUCTORS <- c("c", "list", "-", "+", "*", "/", "^", ":", "(", "seq", "seq_len", "rep",
                  "character", "numeric", "integer", "logical", "vector", "setNames",
                  "as.integer", "as.numeric", "as.character", "as.Date", "matrix",
                  "data.frame", "factor", "function", "list2env", "new.env", "environment")
BASE_R <- c("base", "stats", "utils", "methods", "graphics", "grDevices", "datasets", "tools",
            "parallel", "grid", "splines", "stats4", "tcltk", "compiler")

# What each special function means to the walk, looked up once per call (a hashed environment).
ROLE <- new.env(hash = TRUE)
for (name in ASSIGN) ROLE[[name]] <- "assign"
for (name in c("::", ":::")) ROLE[[name]] <- "namespace"
ROLE[["function"]] <- "function"
for (name in PACKAGE_LOADERS) ROLE[[name]] <- "package"
for (name in c("$", "@")) ROLE[[name]] <- "slot"
for (name in QUOTING) ROLE[[name]] <- "quoting"
ROLE[["~"]] <- "formula"
ROLE[["for"]] <- "for"
for (name in PIPES) ROLE[[name]] <- "pipe"
ROLE[["assign"]] <- "assign_call"
for (name in c("get", "get0", "mget")) ROLE[[name]] <- "get"
ROLE[["data"]] <- "data"
ROLE[["local"]] <- "local"
for (name in SHELL) ROLE[[name]] <- "shell"
ROLE[["install.packages"]] <- "install"
for (name in NSE) ROLE[[name]] <- "nse"

`%||%` <- function(a, b) if (is.null(a) || is.na(a)) b else a

r_functions <- NULL
is_r_function <- function(name) {
  # Whether `name` is a function R attaches by default (looked up only for names the notebook
  # also binds to a value: loading the namespaces costs a tenth of a second).
  if (exists(name, envir = baseenv(), mode = "function", inherits = FALSE)) return(TRUE)
  if (is.null(r_functions)) {
    r_functions <<- unlist(lapply(c("stats", "utils", "graphics", "grDevices", "methods"),
                                  getNamespaceExports))
  }
  name %in% r_functions
}

# -- state of the statement being walked ---------------------------------------------------------

S <- new.env()

reset_cell <- function() {
  # Events are kept as columns (plain vectors): lists of small lists took most of the time.
  S$kind <- S$name <- S$via <- character(0)
  S$line <- S$col <- integer(0)
  S$soft <- logical(0)
  S$packages <- character(0)
  S$warnings <- list()
}

locate <- function(name) {
  # The first not yet used token spelling `name` in the current statement; else its start.
  hit <- which(!S$used & S$token_name == name)
  if (length(hit) == 0) return(S$start)
  S$used[hit[1]] <- TRUE
  c(S$token_line[hit[1]], S$token_col[hit[1]])
}

consume <- function(e) {
  # Mark the names of a part that is not walked as used, so later names are located right.
  for (name in all.names(e)) locate(name)
}

event <- function(kind, name, loc, via = "", soft = FALSE) {
  S$kind <- c(S$kind, kind)
  S$name <- c(S$name, name)
  S$line <- c(S$line, loc[1])
  S$col <- c(S$col, loc[2])
  S$via <- c(S$via, via)
  S$soft <- c(S$soft, soft)
}

warn <- function(code, what, loc) {
  S$warnings[[length(S$warnings) + 1]] <- list(code = code, what = what, line = loc[1],
                                                column = loc[2])
}

call_name <- function(fn) {
  # "f" for f(...), pkg::f(...) and pkg:::f(...); NA for anything else.
  if (is.symbol(fn)) return(as.character(fn))
  if (is.call(fn) && is.symbol(fn[[1]]) && as.character(fn[[1]]) %in% c("::", ":::")) {
    return(as.character(fn[[3]]))
  }
  NA_character_
}

is_string <- function(e) is.character(e) && length(e) == 1 && !is.na(e)

# -- the walk ------------------------------------------------------------------------------------
# scope: NULL at the top level of a cell, else the names local to the enclosing functions.
# deferred: inside a function body (a use counts when the step ends, as the function may be called).

use <- function(name, loc, scope, deferred, soft) {
  if (!is.null(scope) && name %in% scope) return(invisible())
  event(if (deferred) "deferred" else "load", name, loc, soft = soft)
}

walk <- function(e, scope = NULL, deferred = FALSE, soft = FALSE) {
  if (is.symbol(e)) {
    name <- as.character(e)
    if (nzchar(name) && !startsWith(name, "..")) {  # not ..., ..1
      use(name, locate(name), scope, deferred, soft)
    }
    return(invisible())
  }
  if (is.pairlist(e) || is.list(e)) return(walk_args(as.list(e), scope, deferred, soft))
  if (!is.call(e)) return(invisible())
  fn <- e[[1]]
  name <- call_name(fn)
  args <- as.list(e)[-1]
  if (is.na(name)) {
    walk(fn, scope, deferred, soft)
    walk_args(args, scope, deferred, soft)
    return(invisible())
  }
  role <- if (nzchar(name)) ROLE[[name]] else NULL
  if (is.call(fn)) {  # pkg::f(...): the package is needed, pkg and f are no variables
    S$packages <- c(S$packages, as.character(fn[[2]]))
    consume(fn)
    if (!identical(role, "nse")) role <- NULL
  }
  if (is.null(role)) {
    callee(fn, scope, deferred, soft)
    return(walk_args(args, scope, deferred, soft))
  }
  switch(role,
    assign = if (length(args) == 2) {
      return(assignment(e, scope, deferred, soft, super = name == "<<-"))
    },
    namespace = {
      S$packages <- c(S$packages, as.character(e[[2]]))
      return(consume(e))
    },
    "function" = return(function_definition(e, scope, soft)),
    package = return(package_load(e, scope, deferred, soft)),
    slot = if (length(args) == 2) {
      walk(args[[1]], scope, deferred, soft)
      return(consume(args[[2]]))
    },
    quoting = return(consume(e)),
    formula = return(walk_args(args, scope, deferred, soft = TRUE)),
    "for" = {
      var <- as.character(args[[1]])
      loc <- locate(var)
      walk(args[[2]], scope, deferred, soft)
      if (is.null(scope)) event("store", var, loc)
      return(walk(args[[3]], if (is.null(scope)) NULL else c(scope, var), deferred, soft))
    },
    pipe = if (length(args) == 2) {
      walk(args[[1]], scope, deferred, soft)
      rhs <- args[[2]]
      if (is.call(rhs) && identical(ROLE[[call_name(rhs[[1]]) %||% ""]], "nse")) {
        callee(rhs[[1]], scope, deferred, soft)
        walk_args(as.list(rhs)[-1], scope, deferred, soft = TRUE)
      } else {
        walk(rhs, scope, deferred, soft)
      }
      # magrittr's x %<>% f() assigns the result back to x: a change of x
      if (name == "%<>%" && is.symbol(args[[1]]) && is.null(scope)) {
        event("mutate", as.character(args[[1]]), S$start)
      }
      return(invisible())
    },
    assign_call = return(assign_call(e, scope, deferred, soft)),
    get = if (length(args) >= 1 && is_string(args[[1]])) {
      use(args[[1]], locate(deparse(args[[1]])), scope, deferred, soft)
      return(walk_args(args[-1], scope, deferred, soft))
    },
    data = if (is.null(scope)) {
      for (a in args) if (is.symbol(a) || is_string(a)) {
        event("store", as.character(a), locate(if (is.symbol(a)) as.character(a) else deparse(a)))
      }
      return(invisible())
    },
    local = if (length(args) >= 1) {
      inner <- c(scope, findLocals(args[[1]]))
      return(walk(args[[1]], inner, deferred, soft))
    },
    shell = warn("shell-escape", name, S$start_of_call(name)),
    install = warn("install-packages", name, S$start_of_call(name))
  )
  callee(fn, scope, deferred, soft)
  if (role == "nse" && length(args) >= 1) {
    walk(args[[1]], scope, deferred, soft)
    return(walk_args(args[-1], scope, deferred, soft = TRUE))
  }
  walk_args(args, scope, deferred, soft)
}

walk_args <- function(args, scope, deferred, soft) {
  for (i in seq_along(args)) {
    # the empty argument of x[, 1] and function(a) is a symbol without a name
    if (!(is.symbol(args[[i]]) && !nzchar(as.character(args[[i]])))) {
      walk(args[[i]], scope, deferred, soft)
    }
  }
  invisible()
}

callee <- function(fn, scope, deferred, soft) {
  # The function of a call: a use only when the notebook may have bound it. R looks up the
  # function of a call skipping non-function values, so `t <- 1` does not make `t(m)` an input.
  if (!is.symbol(fn)) return(invisible())
  name <- as.character(fn)
  loc <- locate(name)
  if (!exists(name, envir = S$bound, inherits = FALSE)) return(invisible())
  if (!exists(name, envir = S$functions, inherits = FALSE) && is_r_function(name)) {
    return(invisible())
  }
  use(name, loc, scope, deferred, soft)
}

target_name <- function(target) {
  # The variable an assignment target binds or changes: x for x, "x", x$a, x[[i]], names(x)[2].
  while (is.call(target)) {
    if (length(target) < 2) return(NA_character_)
    target <- target[[2]]
  }
  if (is.symbol(target) || is_string(target)) as.character(target) else NA_character_
}

walk_target_args <- function(target, scope, deferred, soft) {
  # The index and argument expressions of a replacement target (x[[i]] <- v reads i).
  while (is.call(target) && length(target) >= 2) {
    name <- call_name(target[[1]])
    rest <- as.list(target)[-(1:2)]
    if (!is.na(name) && name %in% c("$", "@")) {
      consume(rest)
    } else {
      walk_args(rest, scope, deferred, soft)
    }
    target <- target[[2]]
  }
}

assignment <- function(e, scope, deferred, soft, super) {
  target <- e[[2]]
  value <- e[[3]]
  name <- target_name(target)
  if (is.na(name)) return(walk_args(as.list(e)[-1], scope, deferred, soft))
  loc <- locate(name)
  replacement <- is.call(target)
  if (replacement) walk_target_args(target, scope, deferred, soft)
  walk(value, scope, deferred, soft)
  via <- if (is.call(value) && identical(value[[1]], as.symbol("function"))) "def" else ""
  if (replacement) use(name, loc, if (super) NULL else scope, deferred, soft)
  if (is.null(scope) || super) {
    event(if (replacement) "mutate" else "store", name, loc, via = via)
  }
  invisible()
}

assign_call <- function(e, scope, deferred, soft) {
  m <- tryCatch(match.call(assign, e), error = function(err) NULL)
  if (is.null(m) || !is_string(m$x)) return(walk_args(as.list(e)[-1], scope, deferred, soft))
  loc <- locate(deparse(m$x))
  if (!is.null(m$value)) walk(m$value, scope, deferred, soft)
  envir <- if (!is.null(m$envir)) deparse(m$envir) else if (!is.null(m$pos)) deparse(m$pos) else ""
  global <- envir %in% c(".GlobalEnv", "globalenv()", "1")
  if (is.null(scope) || global) event("store", m$x, loc)
  invisible()
}

function_definition <- function(e, scope, soft) {
  formals <- e[[2]]
  body <- e[[3]]
  inner <- unique(c(scope, names(formals), findFuncLocals(formals, body)))
  walk_args(as.list(formals), inner, TRUE, soft)
  walk(body, inner, TRUE, soft)
}

package_load <- function(e, scope, deferred, soft) {
  m <- tryCatch(match.call(match.fun(as.character(e[[1]])), e), error = function(err) NULL)
  first <- if (!is.null(m) && length(m) >= 2) m[[2]] else NULL
  character_only <- !is.null(m) && isTRUE(m$character.only)
  if (!character_only && (is.symbol(first) || is_string(first))) {
    S$packages <- c(S$packages, as.character(first))
    return(consume(e))
  }
  walk_args(as.list(e)[-1], scope, deferred, soft)
}

# -- statements: parameters and header work ------------------------------------------------------

literal_type <- function(value) {
  # The spec's type of an R literal: "int" (5L), "float" (5, 2.5, -1e3), "str", "bool", "null";
  # NA for anything else (vectors, calls, NA, NaN, Inf).
  negative <- is.call(value) && identical(value[[1]], as.symbol("-")) && length(value) == 2
  if (negative) value <- value[[2]]
  if (is.null(value)) return(if (negative) NA else "null")
  if (!is.atomic(value) || length(value) != 1 || is.na(value)) return(NA)
  if (is.integer(value)) return("int")
  if (is.double(value)) return(if (is.finite(value)) "float" else NA)
  if (negative) return(NA)
  if (is.logical(value)) return("bool")
  if (is.character(value)) return("str")
  NA
}

literal_text <- function(value, type) {
  if (type == "null") return("null")
  if (type == "float") return(sprintf("%.17g", eval(value)))
  if (type == "int") return(as.character(eval(value)))
  if (type == "bool") return(if (isTRUE(value)) "true" else "false")
  json_string(value)
}

does_work <- function(e) {
  # Whether a header statement does real work, not just bind literals, functions and packages.
  if (!is.call(e)) return(FALSE)
  name <- call_name(e[[1]])
  if (is.na(name)) return(TRUE)
  if (name %in% c(PACKAGE_LOADERS, "suppressPackageStartupMessages", "suppressMessages",
                  "suppressWarnings", "invisible", "options")) {
    inner <- as.list(e)[-1]
    return(any(vapply(inner, function(a) is.call(a) && does_work(a), TRUE)) &&
             !(name %in% c(PACKAGE_LOADERS, "options")))
  }
  if (name %in% ASSIGN || name == "function") {
    value <- if (name == "function") NULL else e[[3]]
    if (is.null(value) || !is.call(value)) return(FALSE)
    calls <- setdiff(all.names(value, unique = TRUE), all.vars(value))
    if (identical(value[[1]], as.symbol("function"))) return(FALSE)
    return(!all(calls %in% CONSTRUCTORS))
  }
  TRUE
}

statement_facts <- function(e) {
  facts <- list(work = does_work(e))
  name <- if (is.call(e)) call_name(e[[1]]) else NA_character_
  if (!is.na(name) && name %in% c("<-", "=") && length(e) == 3 &&
      is.symbol(e[[2]]) && startsWith(as.character(e[[2]]), "param_")) {
    type <- literal_type(e[[3]])
    facts$param <- list(name = as.character(e[[2]]), type = if (is.na(type)) NULL else type,
                        value = if (is.na(type)) NULL else literal_text(e[[3]], type),
                        text = paste(deparse(e[[3]], width.cutoff = 60L)[1], collapse = ""))
  }
  facts
}

# -- cells ---------------------------------------------------------------------------------------

parse_error <- function(err) {
  message <- conditionMessage(err)
  where <- regmatches(message, regexec("^<text>:([0-9]+):([0-9]+): ([^\n]*)", message))[[1]]
  if (length(where) == 4) {
    return(list(line = as.integer(where[2]), column = max(1L, as.integer(where[3])),
                message = where[4]))
  }
  list(line = 1L, column = 1L, message = sub("\n.*", "", message))
}

analyse_cell <- function(source) {
  reset_cell()
  parsed <- tryCatch(parse(text = source, keep.source = TRUE), error = function(err) err)
  if (inherits(parsed, "error")) return(to_json(list(error = parse_error(parsed))))
  # The parse data as parse() stores it (rows line1, col1, line2, col2, terminal, token, id,
  # parent; attributes "tokens" and "text"): what getParseData() turns into a data frame, which
  # took a fifth of the time.
  data <- attr(parsed, "srcfile")$parseData
  if (is.matrix(data) && !is.null(attr(data, "tokens")) && !is.null(attr(data, "text"))) {
    token <- attr(data, "tokens")
    text <- attr(data, "text")
    line1 <- data[1, ]
    col1 <- data[2, ]
  } else {
    data <- utils::getParseData(parsed)
    token <- data$token
    text <- data$text
    line1 <- data$line1
    col1 <- data$col1
  }
  named <- token %in% c("SYMBOL", "SYMBOL_FUNCTION_CALL", "SYMBOL_PACKAGE", "STR_CONST")
  token <- token[named]
  line1 <- line1[named]
  col1 <- col1[named]
  text <- text[named]
  name <- ifelse(token == "STR_CONST", text, gsub("^`|`$", "", text))
  refs <- attr(parsed, "srcref")
  statements <- character(0)
  for (i in seq_along(parsed)) {
    ref <- as.integer(refs[[i]])
    start <- c(ref[1], ref[5])
    inside <- (line1 > ref[1] | (line1 == ref[1] & col1 >= ref[5])) &
      (line1 < ref[3] | (line1 == ref[3] & col1 <= ref[6]))
    S$token_name <- name[inside]
    S$token_line <- line1[inside]
    S$token_col <- col1[inside]
    S$used <- logical(length(S$token_name))
    S$start <- start
    calls <- which(inside & token == "SYMBOL_FUNCTION_CALL")
    S$start_of_call <- function(called) {
      hit <- calls[name[calls] == called]
      if (length(hit)) c(line1[hit[1]], col1[hit[1]]) else start
    }
    walk(parsed[[i]])
    facts <- statement_facts(parsed[[i]])
    statements <- c(statements, paste0(
      "{\"line\":", start[1], ",\"column\":", start[2], ",\"work\":",
      if (facts$work) "true" else "false",
      if (is.null(facts$param)) "" else paste0(",\"param\":", to_json(facts$param)), "}"
    ))
  }
  events <- if (length(S$kind)) {
    paste0("[", json_string(S$kind), ",", json_string(S$name), ",", S$line, ",", S$col, ",",
           json_string(S$via), ",", ifelse(S$soft, "true", "false"), "]", collapse = ",")
  } else ""
  paste0("{\"events\":[", events, "],\"statements\":[", paste(statements, collapse = ","),
         "],\"packages\":", to_json(as.list(unique(S$packages))),
         ",\"warnings\":", to_json(S$warnings), "}")
}

bound_names <- function(sources) {
  # Names any cell binds at its top level, and those bound to a function: whether the function of
  # a call can be the notebook's own.
  bound <- character(0)
  functions <- character(0)
  for (source in sources) {
    parsed <- tryCatch(parse(text = source, keep.source = FALSE), error = function(err) NULL)
    for (e in parsed) {
      if (is.call(e) && is.symbol(e[[1]]) && as.character(e[[1]]) %in% ASSIGN && length(e) == 3) {
        name <- target_name(e[[2]])
        if (is.na(name)) next
        bound <- c(bound, name)
        value <- e[[3]]
        if (is.call(value) && identical(value[[1]], as.symbol("function"))) {
          functions <- c(functions, name)
        }
      }
    }
  }
  list(bound = unique(bound), functions = unique(functions))
}

name_set <- function(names) {
  # A hashed set (an environment): looked up for every call in every cell.
  set <- new.env(hash = TRUE, size = max(29L, length(names)))
  for (name in names) assign(name, TRUE, envir = set)
  set
}

main <- function() {
  input <- file("stdin", encoding = "UTF-8")
  sources <- eval(parse(input, keep.source = FALSE)[[1]])
  close(input)
  names <- bound_names(sources)
  S$bound <- name_set(names$bound)
  S$functions <- name_set(names$functions)
  cells <- vapply(sources, function(source) {
    tryCatch(analyse_cell(source), error = function(err) {
      # A construct this script does not know: that cell is reported, the others still analysed.
      to_json(list(failure = sub("\n.*", "", conditionMessage(err))))
    })
  }, "", USE.NAMES = FALSE)
  out <- paste0("{\"cells\":[", paste(cells, collapse = ","), "]}")
  writeLines(out, stdout(), useBytes = TRUE)
}

main()
