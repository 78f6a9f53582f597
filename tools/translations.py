"""Fills engine/locale/{zh,ru}/LC_MESSAGES/messages.po from the extracted template.

Workflow: python tools/translations.py --extract (runs pybabel extract over the screens' templates
and the engine's messages, with the keywords in KEYWORDS), then add any new message to
TRANSLATIONS below (UI) or to tools/engine_messages.py (the engine's errors) and run
python tools/translations.py. A message without a translation is reported, so nothing
untranslated ships unnoticed.
"""
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_messages import CONNECTORS, ENGINE, FILES, IMPORTS, IMPORTS_MORE, PORTAL, SESSIONS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent / "engine" / "locale"
# what carries a message to extract: the screens' _ and gettext, Msg, and the first (or given) argument of the engine's errors
KEYWORDS = ["_", "gettext", "Msg", "add:2", "BadValue", "FieldError:2", "NotFound", "Conflict", "Forbidden", "BadRequest",
            "Unauthenticated", "TooManyRequests", "PayloadTooLarge", "Unavailable"]
# titles of errors that reach screens from code (engine.core.errors and the server)
EXTRA = ["Bad request", "Not signed in", "Not allowed", "Not found", "Conflict", "Request too large", "Invalid input", "Too many attempts",
         "Method not allowed", "Something went wrong", "Not available", "Error", "Due %(when)s", "Link no longer valid",
         # the actions said inside permission refusals, and review outcomes (Msg(action), Msg(status))
         "read", "create", "update", "delete", "export", "approved", "rejected"]

TRANSLATIONS = {
    "You cannot move it from %(here)s to %(there)s.": ("不能从“%(here)s”移到“%(there)s”。", "Нельзя перевести из «%(here)s» в «%(there)s»."),
    "'%(transition)s' needs more from you; open the record to give it.": ("“%(transition)s”还需要您填写信息，请打开记录填写。", "Для «%(transition)s» нужны данные; откройте запись и укажите их."),
    "Overdue": ("已逾期", "Просрочено"), "At risk": ("有逾期风险", "Под угрозой"), "Due %(when)s": ("截止 %(when)s", "Срок: %(when)s"),
    "approved": ("已同意", "одобрено"), "rejected": ("已驳回", "отклонено"),
    "gave the %(role)s opinion: %(decision)s": ("给出%(role)s意见：%(decision)s", "дал(а) заключение «%(role)s»: %(decision)s"),
    "passed the record to the owner's manager (deadline missed)": ("已将记录转交负责人的上级（已超期）", "передал(а) запись руководителю владельца (срок пропущен)"),
    "Board": ("看板", "Доска"), "List": ("列表", "Список"),
    "Drag a card to another column to move it, or use its “Move to” menu. A move you may not make snaps back and says why.": (
        "把卡片拖到另一列即可推进，或使用卡片上的“移到”菜单。不允许的移动会退回原处并说明原因。",
        "Перетащите карточку в другую колонку или выберите «Перевести в». Недопустимый переход вернёт карточку на место с объяснением."),
    "Move to": ("移到", "Перевести в"), "Move": ("移动", "Перевести"), "All in the list": ("在列表中查看全部", "Все в списке"),
    "Waiting for your review": ("等待您评审", "Ждут вашего заключения"), "Notifications": ("通知", "Уведомления"),
    "Mark all as read": ("全部标为已读", "Отметить все как прочитанные"), "Department review": ("部门评审", "Согласование отделов"),
    "Review": ("评审", "Согласование"), "round %(n)s": ("第 %(n)s 轮", "круг %(n)s"), "waiting for %(n)s": ("等待 %(n)s 个", "ожидается: %(n)s"),
    "not completed": ("未完成", "не завершено"), "Department": ("部门", "Отдел"), "Opinion": ("意见", "Заключение"), "By": ("评审人", "Кто"),
    "Approved": ("同意", "Одобрено"), "Rejected": ("驳回", "Отклонено"), "Waiting": ("待评审", "Ожидает"), "Not needed": ("无需评审", "Не требуется"),
    "Closed": ("已关闭", "Закрыто"), "Your opinion as %(role)s": ("您作为%(role)s的意见", "Ваше заключение («%(role)s»)"),
    "Delivery, feasibility, price, payment terms...": ("交期、可行性、价格、付款条件……", "Сроки, выполнимость, цена, условия оплаты..."),
    "Approve": ("同意", "Одобрить"), "Reject": ("驳回", "Отклонить"),
    "Tick the records to apply it to, then try again.": ("请勾选要处理的记录后重试。", "Отметьте записи, к которым это применить, и повторите."),
    "%(moved)s of %(total)s done.": ("已完成 %(moved)s / %(total)s。", "Выполнено: %(moved)s из %(total)s."),
    "Result": ("结果", "Результат"), "Done": ("完成", "Выполнено"), "Not done": ("未完成", "Не выполнено"),
    "Back to the list": ("返回列表", "К списку"), "With the selected records": ("对所选记录", "С отмеченными записями"),
    "Reason or comment": ("原因或备注", "Причина или комментарий"), "Select": ("选择", "Выбрать"),
    "These lines cannot be changed now.": ("这些明细现在不能修改。", "Эти строки сейчас нельзя изменить."),
    "%(transition)s: %(from)s → %(to)s": ("%(transition)s：%(from)s → %(to)s", "%(transition)s: %(from)s → %(to)s"),
    "commented: “%(comment)s”": ("备注：“%(comment)s”", "прокомментировал(а): «%(comment)s»"),
    "Workflow": ("流程", "Процесс"), "Comment (optional)": ("备注（可选）", "Комментарий (необязательно)"),
    "This record is closed: it can no longer change.": ("此记录已关闭，不能再修改。", "Запись закрыта: её больше нельзя изменить."),
    "after %(time)s in %(state)s": ("在“%(state)s”停留 %(time)s 后", "после %(time)s в состоянии «%(state)s»"),
    "API tokens": ("API 令牌", "API-токены"), "Label": ("标签", "Метка"), "Created": ("创建时间", "Создан"),
    "Revoke token %(label)s": ("吊销令牌 %(label)s", "Отозвать токен %(label)s"), "Revoke": ("吊销", "Отозвать"),
    "You have no API tokens.": ("您没有 API 令牌。", "У вас нет API-токенов."),
    "Label of a new token (what it is for)": ("新令牌的标签（用途）", "Метка нового токена (для чего он)"),
    "Create token": ("创建令牌", "Создать токен"), "The token was revoked.": ("令牌已吊销。", "Токен отозван."),
    "Your new API token. Copy it now: it is shown only this once.": ("您的新 API 令牌。请立即复制：它只显示这一次。", "Ваш новый API-токен. Скопируйте его сейчас: он показывается только один раз."),
    "API token": ("API 令牌", "API-токен"),
    "Too many failed sign-ins. Try again in %(minutes)s minutes.": ("登录失败次数过多，请 %(minutes)s 分钟后再试。", "Слишком много неудачных попыток входа. Повторите через %(minutes)s мин."),
    "Too many attempts": ("尝试次数过多", "Слишком много попыток"), "Settings": ("设置", "Настройки"), "My account": ("我的账户", "Мой профиль"), "Export": ("导出", "Экспорт"),
    "Your password was changed.": ("您的密码已修改。", "Пароль изменён."), "Your language was saved.": ("语言已保存。", "Язык сохранён."),
    "Language of the screens": ("界面语言", "Язык интерфейса"), "As my browser asks": ("跟随浏览器", "Как в браузере"),
    "Change password": ("修改密码", "Сменить пароль"), "Current password": ("当前密码", "Текущий пароль"), "New password": ("新密码", "Новый пароль"),
    "Explain a permission": ("权限说明", "Проверка прав"), "User": ("用户", "Пользователь"), "Entity": ("对象", "Объект"),
    "Action": ("操作", "Действие"), "Record id (optional)": ("记录编号（可选）", "Номер записи (необязательно)"), "Explain": ("说明", "Проверить"),
    "Allowed": ("允许", "Разрешено"), "Denied": ("拒绝", "Запрещено"), "Decided by": ("决定规则", "Решило правило"), "Rule": ("规则", "Правило"),
    "Where": ("位置", "Где"), "Applies": ("适用", "Применяется"), "yes": ("是", "да"), "no": ("否", "нет"),
    "Hidden fields:": ("隐藏字段：", "Скрытые поля:"), "Read-only fields:": ("只读字段：", "Поля только для чтения:"),
    "Users": ("用户", "Пользователи"), "Roles": ("角色", "Роли"),
    "This app has no roles.yaml: every user may do everything.": ("此应用没有 roles.yaml：每个用户都可执行所有操作。", "В приложении нет roles.yaml: любому пользователю разрешено всё."),
    "Role": ("角色", "Роль"), "Show": ("显示", "Показать"), "Inherits:": ("继承：", "Наследует:"), "Administers users.": ("可管理用户。", "Управляет пользователями."),
    "Field rules": ("字段规则", "Правила полей"), "New user": ("新建用户", "Новый пользователь"), "Saved.": ("已保存。", "Сохранено."),
    "The password was reset.": ("密码已重置。", "Пароль сброшен."), "Please correct the fields marked below.": ("请修正下方标出的字段。", "Исправьте отмеченные ниже поля."),
    "Name": ("姓名", "Имя"), "Manager": ("上级", "Руководитель"), "None": ("无", "Нет"),
    "Active: may sign in and use API tokens": ("启用：可登录并使用 API 令牌", "Активен: может входить и пользоваться API-токенами"),
    "Reset password": ("重置密码", "Сбросить пароль"), "Status": ("状态", "Статус"), "Active": ("启用", "Активен"), "Deactivated": ("已停用", "Отключён"),
    "Yes": ("是", "Да"), "No": ("否", "Нет"),
    "created this record": ("创建了此记录", "создал(а) запись"),
    "deleted this record": ("删除了此记录", "удалил(а) запись"),
    "changed %(field)s from “%(old)s” to “%(new)s”": ("将%(field)s从“%(old)s”改为“%(new)s”", "изменил(а) «%(field)s»: «%(old)s» → «%(new)s»"),
    "added a line: %(line)s": ("添加了一行：%(line)s", "добавил(а) строку: %(line)s"),
    "removed a line: %(line)s": ("删除了一行：%(line)s", "удалил(а) строку: %(line)s"),
    "changed %(field)s on a line from “%(old)s” to “%(new)s”": ("将一行的%(field)s从“%(old)s”改为“%(new)s”", "изменил(а) «%(field)s» в одной из строк: «%(old)s» → «%(new)s»"),
    "Wrong username or password.": ("用户名或密码错误。", "Неверное имя пользователя или пароль."),
    "assigned when saved": ("保存时自动生成", "присваивается при сохранении"),
    "Type to search": ("输入以搜索", "Начните вводить для поиска"),
    "Skip to content": ("跳到正文", "Перейти к содержимому"),
    "Main menu": ("主菜单", "Главное меню"), "Language": ("语言", "Язык"), "Change": ("切换", "Сменить"),
    "Sign out": ("退出", "Выйти"), "Request id": ("请求编号", "Номер запроса"),
    "Back to the start page": ("返回首页", "На главную"), "Edit": ("编辑", "Изменить"), "New": ("新建", "Создать"),
    "Breadcrumb": ("导航路径", "Навигация"), "Edit %(thing)s": ("编辑%(thing)s", "Изменить: %(thing)s"),
    "New %(thing)s": ("新建%(thing)s", "Создать: %(thing)s"),
    "Someone else changed this record while you were editing it.": ("在您编辑期间，其他人修改了此记录。", "Пока вы редактировали запись, её изменил другой пользователь."),
    "Your changes are still in the form below and have not been saved.": ("您的修改仍保留在下方表单中，尚未保存。", "Ваши изменения остались в форме ниже и ещё не сохранены."),
    "Their version differs from yours in:": ("对方版本与您的不同之处：", "Их версия отличается от вашей в полях:"),
    "theirs": ("对方的值", "у них"),
    "Check the fields, then save again to apply your version on top of theirs, or open the record to discard yours.": (
        "请检查这些字段，再次保存即以您的版本覆盖对方的修改；或打开记录放弃您的修改。",
        "Проверьте поля и сохраните ещё раз, чтобы применить свою версию поверх их изменений, или откройте запись, чтобы отказаться от своих."),
    "Please correct the marked fields (%(n)s).": ("请更正标出的字段（%(n)s 处）。", "Исправьте отмеченные поля (%(n)s)."),
    "Actions": ("操作", "Действия"), "Move up": ("上移", "Выше"), "Move down": ("下移", "Ниже"),
    "Remove line": ("删除行", "Удалить строку"), "Add line": ("添加行", "Добавить строку"),
    "Save": ("保存", "Сохранить"), "Cancel": ("取消", "Отмена"),
    "Hello, %(name)s": ("您好，%(name)s", "Здравствуйте, %(name)s"), "Open list": ("打开列表", "Открыть список"),
    "Recently changed by you": ("您最近修改的", "Недавно изменённые вами"),
    "Nothing yet. Records you create or own appear here.": ("暂无内容。您创建或负责的记录会显示在这里。", "Пока пусто. Здесь появятся записи, которые вы создали или ведёте."),
    "Search": ("搜索", "Поиск"), "Any": ("全部", "Любой"), "from": ("从", "с"), "to": ("到", "по"),
    "Apply": ("应用", "Применить"), "Clear": ("清除", "Сбросить"),
    "Some filters could not be used:": ("部分筛选条件无法使用：", "Некоторые фильтры не применены:"),
    "No matches": ("没有匹配项", "Ничего не найдено"), "1–%(shown)s of": ("第 1–%(shown)s 条，共", "1–%(shown)s из"),
    "count all": ("精确计数", "посчитать все"),
    "Nothing matches these filters.": ("没有符合筛选条件的记录。", "Нет записей, подходящих под фильтры."),
    "Clear the filters": ("清除筛选", "Сбросить фильтры"),
    "There are no %(things)s yet.": ("还没有%(things)s。", "Пока нет записей: %(things)s."),
    "Create the first one": ("创建第一条", "Создать первую"), "Show more": ("显示更多", "Показать ещё"),
    "Sign in": ("登录", "Вход"), "Username": ("用户名", "Имя пользователя"), "Password": ("密码", "Пароль"),
    "Copy": ("复制", "Копировать"), "Sections of this page": ("页面分区", "Разделы страницы"),
    "Details": ("详情", "Подробности"), "History": ("历史", "История"), "No lines.": ("没有明细行。", "Строк нет."),
    "Show all": ("显示全部", "Показать все"), "None yet.": ("暂无。", "Пока нет."),
    "Version %(v)s · last changed %(ago)s": ("版本 %(v)s · 最后修改于%(ago)s", "Версия %(v)s · изменено %(ago)s"),
    "Bad request": ("请求有误", "Неверный запрос"), "Not signed in": ("未登录", "Вход не выполнен"),
    "Not allowed": ("无权操作", "Нет доступа"), "Not found": ("未找到", "Не найдено"), "Conflict": ("冲突", "Конфликт"),
    "Request too large": ("请求过大", "Слишком большой запрос"), "Invalid input": ("输入有误", "Неверные данные"),
    "Method not allowed": ("不支持此操作", "Метод не поддерживается"), "Something went wrong": ("出错了", "Что-то пошло не так"),
    "Error": ("错误", "Ошибка"),
    "Date": ("日期", "Дата"), "No earlier values.": ("没有以往记录。", "Ранее значений не было."),
    "Close": ("关闭", "Закрыть"), "Earlier values of %(field)s": ("%(field)s的历史值", "Прежние значения: %(field)s"),
    "Earlier values": ("历史值", "Прежние значения"), "Saved filters": ("已保存的筛选", "Сохранённые фильтры"),
    "Delete saved filter %(name)s": ("删除已保存的筛选 %(name)s", "Удалить фильтр %(name)s"),
    "Name of this filter": ("筛选名称", "Название фильтра"), "Save filter": ("保存筛选", "Сохранить фильтр"),
    "Parts of the form": ("表单分页", "Разделы формы"), "contains": ("包含", "содержит"),
}

# the form designer (Settings > Forms), its versions and comparison
DESIGNER = {
    "Give the field a label.": ("请给字段填写名称。", "Укажите подпись поля."),
    "The name is written in small letters, digits and _, starting with a letter: like sales_channel.": (
        "名称只能使用小写字母、数字和 _，并以字母开头，例如 sales_channel。",
        "Имя пишется строчными латинскими буквами, цифрами и _, начиная с буквы: например, sales_channel."),
    "There is already a field called %(name)s.": ("已经有名为 %(name)s 的字段。", "Поле с именем %(name)s уже есть."),
    "label": ("名称", "подпись"), "help": ("说明", "подсказка"), "placeholder": ("输入提示", "текст-подсказка в поле"),
    "shown as": ("显示方式", "вид"), "always required": ("始终必填", "всегда обязательно"), "shown when": ("显示条件", "показывается, когда"),
    "required when": ("必填条件", "обязательно, когда"), "read-only when": ("只读条件", "только чтение, когда"),
    "message when missing": ("未填时的提示", "сообщение, если не заполнено"), "columns": ("列数", "колонки"), "roles": ("角色", "роли"),
    "states": ("状态", "состояния"),
    "Added the field “%(field)s” (%(type)s).": ("新增字段“%(field)s”（%(type)s）。", "Добавлено поле «%(field)s» (%(type)s)."),
    "Took back the field “%(field)s” (what it holds is kept).": ("撤下字段“%(field)s”（已填数据保留）。", "Поле «%(field)s» убрано (его данные сохранены)."),
    "Put “%(field)s” on the form, in “%(section)s”.": ("将“%(field)s”放到表单的“%(section)s”中。", "«%(field)s» помещено на форму, в раздел «%(section)s»."),
    "Moved “%(field)s” from “%(before)s” to “%(after)s”.": ("将“%(field)s”从“%(before)s”移到“%(after)s”。", "«%(field)s» перенесено из «%(before)s» в «%(after)s»."),
    "Took “%(field)s” off the form.": ("从表单上撤下“%(field)s”。", "«%(field)s» убрано с формы."),
    "Changed the order of the fields in “%(section)s”.": ("调整了“%(section)s”中字段的顺序。", "Изменён порядок полей в разделе «%(section)s»."),
    "“%(field)s”: %(property)s “%(before)s” → “%(after)s”.": ("“%(field)s”：%(property)s “%(before)s” → “%(after)s”。", "«%(field)s»: %(property)s «%(before)s» → «%(after)s»."),
    "Added the section “%(section)s”.": ("新增分组“%(section)s”。", "Добавлен раздел «%(section)s»."),
    "The section “%(section)s” is no longer on the form.": ("分组“%(section)s”已不在表单上。", "Раздела «%(section)s» больше нет на форме."),
    "Section “%(section)s”: %(property)s “%(before)s” → “%(after)s”.": ("分组“%(section)s”：%(property)s “%(before)s” → “%(after)s”。",
                                                                        "Раздел «%(section)s»: %(property)s «%(before)s» → «%(after)s»."),
    "Changed the order of the sections.": ("调整了分组的顺序。", "Изменён порядок разделов."),
    "Tab “%(tab)s”: %(property)s “%(before)s” → “%(after)s”.": ("页签“%(tab)s”：%(property)s “%(before)s” → “%(after)s”。", "Вкладка «%(tab)s»: %(property)s «%(before)s» → «%(after)s»."),
    "e.g.": ("例如", "например"), "Drag to move": ("拖动以移动", "Перетащите, чтобы переместить"), "added here": ("在此新增", "добавлено здесь"),
    "required": ("必填", "обязательно"), "Move %(field)s up": ("上移 %(field)s", "Поднять «%(field)s»"), "Move %(field)s down": ("下移 %(field)s", "Опустить «%(field)s»"),
    "Edit %(field)s": ("编辑 %(field)s", "Изменить «%(field)s»"), "Field label": ("字段名称", "Подпись поля"),
    "Options, one per line": ("选项，每行一个", "Варианты, по одному в строке"), "Default": ("默认值", "По умолчанию"), "Help": ("说明", "Подсказка"),
    "Placeholder": ("输入提示", "Текст-подсказка в поле"), "Shown as": ("显示方式", "Вид"), "the usual input": ("普通输入框", "обычное поле"),
    "Always required": ("始终必填", "Всегда обязательно"), "the implementer's definition requires it": ("实施方的定义要求必填", "обязательно по описанию внедренца"),
    "Shown when": ("显示条件", "Показывать, когда"), "Required when": ("必填条件", "Обязательно, когда"), "Message when it is missing": ("未填时的提示", "Сообщение, если не заполнено"),
    "Read-only when": ("只读条件", "Только чтение, когда"), "Move %(field)s to": ("将 %(field)s 移到", "Перенести «%(field)s» в"), "Put it in": ("放到", "Перенести в"),
    "choose a section": ("选择分组", "выберите раздел"), "Left off the form": ("不在表单上", "Не на форме"), "Remove this field": ("移除此字段", "Убрать это поле"),
    "It leaves the form and the API when you save; what was entered in it is kept and comes back if you restore an earlier version.": (
        "保存后它将从表单和 API 中移除；已填写的数据会保留，恢复到较早版本时会重新出现。",
        "После сохранения поле пропадёт с формы и из API; введённые данные сохранятся и вернутся, если восстановить более раннюю версию."),
    "Section label": ("分组名称", "Название раздела"), "Section without a title": ("无标题分组", "Раздел без заголовка"), "for some roles": ("限部分角色", "для некоторых ролей"),
    "in some states": ("限部分状态", "в некоторых состояниях"), "Move section %(section)s up": ("上移分组 %(section)s", "Поднять раздел «%(section)s»"),
    "Move section %(section)s down": ("下移分组 %(section)s", "Опустить раздел «%(section)s»"), "Section settings": ("分组设置", "Настройки раздела"),
    "Columns": ("列数", "Колонки"), "Only for these roles": ("仅限这些角色", "Только для этих ролей"),
    "Only for these roles (none ticked: everyone)": ("仅限这些角色（都不勾选：所有人）", "Только для этих ролей (ничего не отмечено: для всех)"),
    "Only in these states": ("仅在这些状态", "Только в этих состояниях"), "Only in these states (none ticked: always)": ("仅在这些状态（都不勾选：始终）", "Только в этих состояниях (ничего не отмечено: всегда)"),
    "Fields of %(section)s": ("%(section)s 的字段", "Поля раздела «%(section)s»"), "Form: %(form)s": ("表单：%(form)s", "Форма: %(form)s"), "Forms": ("表单", "Формы"),
    "version %(n)s": ("第 %(n)s 版", "версия %(n)s"), "as the implementer made it": ("实施方原版", "как сделал внедренец"), "Versions": ("版本", "Версии"),
    "Compare with the implementer's form": ("与实施方原版比较", "Сравнить с формой внедренца"), "Open the form": ("打开表单", "Открыть форму"),
    "Saved as version %(n)s. Everyone sees the form this way now.": ("已保存为第 %(n)s 版。现在所有人看到的都是这个表单。", "Сохранено как версия %(n)s. Теперь форма у всех такая."),
    "Nothing to save: the form is already this way.": ("无需保存：表单已经是这样。", "Сохранять нечего: форма уже такая."),
    "Someone else saved this form while you were changing it.": ("在您修改期间，其他人保存了这个表单。", "Пока вы меняли форму, её сохранил кто-то другой."),
    "Your arrangement is below, not saved. Look at their version under Versions; saving again puts yours in force over theirs.": (
        "您的布局在下方，尚未保存。可在“版本”中查看对方的版本；再次保存将以您的版本覆盖对方的版本。",
        "Ваш вариант ниже, он не сохранён. Посмотрите их версию в «Версиях»; повторное сохранение применит ваш вариант поверх их."),
    "The form was not saved: %(n)s problem(s). Nothing was changed.": ("表单未保存：有 %(n)s 个问题。没有任何改动。", "Форма не сохранена: проблем — %(n)s. Ничего не изменено."),
    "Some changes made here no longer fit the implementer's new form and are set aside:": ("此处做过的部分修改与实施方的新表单不再相符，已暂时搁置：",
                                                                                       "Некоторые изменения, сделанные здесь, больше не подходят к новой форме внедренца и отложены:"),
    "They are kept in version %(n)s. The form below is what everyone sees now; saving it drops the changes set aside.": (
        "它们仍保存在第 %(n)s 版中。下方是所有人现在看到的表单；保存后将丢弃搁置的修改。",
        "Они сохранены в версии %(n)s. Ниже — форма, которую сейчас видят все; при сохранении отложенные изменения будут отброшены."),
    "Drag a field or a section by its handle ⠿, or use its ↑ ↓ buttons. Open a field to change its labels, help and conditions.": (
        "按住 ⠿ 拖动字段或分组，或使用 ↑ ↓ 按钮。打开字段即可修改名称、说明和条件。",
        "Перетаскивайте поле или раздел за ⠿ или двигайте кнопками ↑ ↓. Откройте поле, чтобы изменить подписи, подсказку и условия."),
    "Tab": ("页签", "Вкладка"), "Add a section": ("添加分组", "Добавить раздел"), "Not placed by this form": ("表单未安排的字段", "Не размещены формой"),
    "These fields show after the form's sections. Drag one into a section to give it a place.": ("这些字段显示在表单各分组之后。拖入某个分组即可为其安排位置。",
                                                                                                 "Эти поля показываются после разделов формы. Перетащите поле в раздел, чтобы дать ему место."),
    "Fields here are not shown on the form or the record page; what they hold is kept. Drag a field here to take it off.": (
        "这里的字段不在表单和记录页上显示；已有数据保留。把字段拖到这里即可从表单上撤下。",
        "Эти поля не показываются на форме и странице записи; их данные сохраняются. Перетащите поле сюда, чтобы убрать его с формы."),
    "Add a field": ("添加字段", "Добавить поле"),
    "A new field is added to every %(thing)s, at the end of the first section; move it where you want it. Existing records get it empty.": (
        "新字段会加到每张%(thing)s上，位于第一个分组末尾，可再移到需要的位置。已有记录中该字段为空。",
        "Новое поле появится у каждого объекта «%(thing)s» в конце первого раздела; перенесите его куда нужно. У существующих записей оно будет пустым."),
    "Name (for the API and conditions)": ("名称（用于 API 和条件）", "Имя (для API и условий)"), "made from the label": ("根据名称自动生成", "составляется из подписи"),
    "Type": ("类型", "Тип"), "text, one line": ("单行文本", "текст в одну строку"), "text, several lines": ("多行文本", "многострочный текст"),
    "whole number": ("整数", "целое число"), "number with decimals": ("小数", "число с дробной частью"), "yes / no": ("是 / 否", "да / нет"),
    "date": ("日期", "дата"), "date and time": ("日期和时间", "дата и время"), "choice from a list": ("从列表中选择", "выбор из списка"),
    "e-mail address": ("电子邮箱", "адрес эл. почты"), "phone number": ("电话号码", "номер телефона"), "web address": ("网址", "веб-адрес"),
    "Options, one per line (for a choice from a list)": ("选项，每行一个（用于从列表中选择）", "Варианты, по одному в строке (для выбора из списка)"),
    "Online shop": ("网店", "Интернет-магазин"), "Dealer": ("经销商", "Дилер"), "Default (optional)": ("默认值（可选）", "Значение по умолчанию (необязательно)"),
    "Add the field": ("添加此字段", "Добавить поле"), "Names for conditions": ("条件中可用的名称", "Имена для условий"),
    "A condition compares values, like these; combine them with and, or, not. Click a name to put it into the condition you are writing.": (
        "条件用来比较值，如下例；可用 and、or、not 组合。点击名称即可把它插入正在编写的条件中。",
        "Условие сравнивает значения, как в примерах; объединяйте условия через and, or, not. Нажмите на имя, чтобы вставить его в условие."),
    "lines: e.g. %(ex)s": ("明细：例如 %(ex)s", "строки: например, %(ex)s"), "the signed-in user": ("当前登录用户", "вошедший пользователь"),
    "Preview": ("预览", "Предпросмотр"), "As role": ("以角色", "От имени роли"), "On a record in": ("记录状态", "Запись в состоянии"), "a new record": ("新记录", "новая запись"),
    "Show the preview": ("显示预览", "Показать"), "The preview shows this arrangement, unsaved, as the chosen role sees it.": ("预览显示当前（未保存的）布局在所选角色眼中的样子。",
                                                                                                                     "Предпросмотр показывает этот (несохранённый) вариант так, как его увидит выбранная роль."),
    "Label of the new section": ("新分组的名称", "Название нового раздела"), "Move the section up": ("上移分组", "Поднять раздел"), "Move the section down": ("下移分组", "Опустить раздел"),
    "Drag fields here. A section left empty is not kept.": ("把字段拖到这里。空分组不会保留。", "Перетащите сюда поля. Пустой раздел не сохраняется."),
    "Save the form": ("保存表单", "Сохранить форму"), "Saving checks the whole form first; a form with a problem is not saved.": ("保存前会检查整个表单；有问题的表单不会保存。",
                                                                                                                     "Перед сохранением вся форма проверяется; форма с ошибкой не сохраняется."),
    "This condition can be used.": ("此条件可以使用。", "Это условие можно использовать."), "Compare": ("比较", "Сравнение"),
    "The implementer's form and the form in force": ("实施方原版与当前生效的表单", "Форма внедренца и действующая форма"), "Changed here": ("在此修改的内容", "Изменено здесь"),
    "Nothing: the form in force is the implementer's form.": ("无：当前生效的就是实施方原版。", "Ничего: действует форма внедренца."), "As YAML": ("YAML 形式", "В виде YAML"),
    "What the form file would say with the changes folded in (python run.py export-overlay writes it). Lines marked − are the implementer's, + the form in force.": (
        "并入这些修改后表单文件的内容（由 python run.py export-overlay 写出）。标 − 的行是实施方原版，标 + 的是当前生效的表单。",
        "Что будет в файле формы, если внести изменения (это записывает python run.py export-overlay). Строки с − — от внедренца, с + — действующая форма."),
    "The app has no file for this form yet.": ("应用中还没有这个表单的文件。", "Файла этой формы в приложении пока нет."), "No difference.": ("没有差异。", "Различий нет."),
    "Versions of the form %(form)s": ("表单 %(form)s 的版本", "Версии формы «%(form)s»"),
    "Restored as version %(n)s. Everyone sees the form this way now.": ("已恢复为第 %(n)s 版。现在所有人看到的都是这个表单。", "Восстановлено как версия %(n)s. Теперь форма у всех такая."),
    "Version %(n)s": ("第 %(n)s 版", "Версия %(n)s"), "in force": ("生效中", "действует"), "Restore this version": ("恢复此版本", "Восстановить эту версию"),
    "restored version %(n)s": ("恢复了第 %(n)s 版", "восстановлена версия %(n)s"), "restored the implementer's form": ("恢复为实施方原版", "восстановлена форма внедренца"),
    "saved in the designer": ("在表单设计器中保存", "сохранено в конструкторе"), "No change to the form itself.": ("表单本身没有变化。", "Сама форма не изменилась."),
    "The implementer's form": ("实施方原版", "Форма внедренца"), "Go back to it": ("恢复原版", "Вернуться к ней"),
    "The form as written in the app's files, without changes made here.": ("应用文件中写明的表单，不含在此做的修改。", "Форма, как она записана в файлах приложения, без изменений, сделанных здесь."),
    "As %(role)s, on %(what)s. Fields shown under a condition are marked; the form shows them when it holds.": (
        "以“%(role)s”身份查看%(what)s。带条件显示的字段已标出；条件成立时表单才显示它们。",
        "От имени «%(role)s», %(what)s. Поля с условием показа отмечены; форма показывает их, когда условие выполняется."),
    "any user": ("任意用户", "любой пользователь"), "a table of lines": ("明细表", "таблица строк"),
    "The form cannot be shown this way: %(n)s problem(s).": ("表单无法这样显示：有 %(n)s 个问题。", "Форму нельзя показать так: проблем — %(n)s."),
    "Change how records are entered and shown: arrange fields and sections, relabel them in each language, make fields required or shown only under a condition, and add fields. Every change is checked before it is saved, kept as a version, and can be undone.": (
        "修改记录的录入和显示方式：安排字段和分组、用各种语言重新命名、设置字段必填或按条件显示，以及新增字段。每次修改在保存前都会经过检查，作为一个版本保留，并且可以撤销。",
        "Меняйте, как записи вводятся и показываются: расставляйте поля и разделы, меняйте подписи на каждом языке, делайте поля обязательными или видимыми по условию, добавляйте поля. Каждое изменение проверяется перед сохранением, хранится как версия и может быть отменено."),
    "Form": ("表单", "Форма"), "Version": ("版本", "Версия"), "Last changed": ("最近修改", "Последнее изменение"), "Notes": ("备注", "Примечания"),
    "changes set aside: %(n)s": ("搁置的修改：%(n)s", "отложено изменений: %(n)s"),
}
TRANSLATIONS.update(DESIGNER)
TRANSLATIONS.update(ENGINE)
TRANSLATIONS.update(SESSIONS)
TRANSLATIONS.update(CONNECTORS)
TRANSLATIONS.update(IMPORTS)
TRANSLATIONS.update(IMPORTS_MORE)
TRANSLATIONS.update(FILES)
TRANSLATIONS.update(PORTAL)


def extract() -> None:
    import subprocess
    args = [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "--no-location", "--omit-header",
            "-o", str(ROOT / "messages.pot")]
    for k in KEYWORDS:
        args += ["-k", k]
    subprocess.run([*args, "."], check=True, cwd=ROOT.parent.parent)


def main() -> int:
    if "--extract" in sys.argv:
        extract()
    with (ROOT / "messages.pot").open("rb") as f:
        template = read_po(f)
    ids = [m.id for m in template if m.id] + EXTRA
    missing = [i for i in ids if i not in TRANSLATIONS]
    for col, lang in enumerate(("zh", "ru")):
        cat = Catalog(locale=lang, project="order-engine", charset="utf-8")
        for mid in ids:
            if mid in TRANSLATIONS:
                cat.add(mid, TRANSLATIONS[mid][col])
        out = ROOT / lang / "LC_MESSAGES" / "messages.po"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as f:
            write_po(f, cat, width=120, omit_header=False)
    if missing:
        print("untranslated:", *missing, sep="\n  ")
        return 1
    print(f"{len(ids)} messages translated into zh and ru")
    return 0


if __name__ == "__main__":
    sys.exit(main())
